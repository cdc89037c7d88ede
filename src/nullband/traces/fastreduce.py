"""The fast engine's reduce: merge chunk facts, class medians, verdicts.

Same answers as :func:`nullband.traces.audit.audit_groups`, without per-step Python for
most steps: chunks (:class:`~nullband.traces.msgaudit.ChunkFacts`) are merged as they
arrive (their unique trace ids and timing keys are mapped to global codes, the per-row
arrays remapped with numpy), medians are numpy medians per class, and only traces that
can carry a flag (a step the screen sent to the reference function, or a span outside
its class's timing limits) go through the shared per-trace function
:func:`~nullband.traces.audit.finalize`; every other trace is clean by construction and
gets its row directly.
"""

from __future__ import annotations

from itertools import repeat
from typing import Any

import numpy as np

from nullband.traces.audit import StepFacts, finalize, summarize, timing_limits
from nullband.traces.audit_models import AuditConfig, AuditReport, AuditRow, ClassTiming
from nullband.traces.msgaudit import ChunkFacts, split_ids

Key = tuple[str | None, str, str]


class Reducer:
    """Accumulates chunk facts in input order, then computes the report."""

    def __init__(self, config: AuditConfig) -> None:
        self.config = config
        self.traces: dict[str, int] = {}
        self.keys: dict[Key, int] = {}
        self._tcode: list[np.ndarray] = []
        self._kcode: list[np.ndarray] = []
        self._dur: list[np.ndarray] = []
        self._ts: list[np.ndarray] = []
        self._idx: list[np.ndarray] = []
        self._ids: list[str | list[str]] = []
        self._starts: list[int] = []
        self.special: dict[int, tuple[Any, ...]] = {}
        self.rows: dict[int, AuditRow] = {}
        self._tmaps: list[np.ndarray] = []
        self.n = 0

    def add(self, chunk: ChunkFacts) -> None:
        """Merge one chunk (chunks must come in file order)."""
        traces, keys = self.traces, self.keys
        ids = chunk.trace_ids
        n0 = len(traces)
        if traces.keys().isdisjoint(ids):  # the usual case: all new (a chunk's ids are unique)
            traces.update(zip(ids, range(n0, n0 + len(ids)), strict=True))
            tmap = np.arange(n0, n0 + len(ids), dtype=np.int64)
        else:
            tmap = np.array([traces.setdefault(t, len(traces)) for t in ids], np.int64)
        kmap = np.array([keys.setdefault(k, len(keys)) for k in chunk.keys], np.int64)
        rows = len(chunk.tcode)
        self._tcode.append(tmap[chunk.tcode] if rows else chunk.tcode)
        self._kcode.append(kmap[chunk.kcode] if rows else chunk.kcode)
        self._dur.append(chunk.dur)
        self._ts.append(chunk.ts)
        self._idx.append(chunk.first_idx + np.arange(rows, dtype=np.int64))
        self._ids.append(chunk.step_ids)
        self._starts.append(self.n)
        for row, facts in chunk.special.items():
            self.special[self.n + row] = facts
        codes = tmap.tolist()
        for t, audit in chunk.rows.items():
            self.rows[codes[t]] = audit
        self._tmaps.append(tmap)
        self.n += rows

    def report(self) -> AuditReport:
        """The audit report of everything added."""
        cfg = self.config
        tcode = np.concatenate(self._tcode) if self._tcode else np.zeros(0, np.int64)
        kcode = np.concatenate(self._kcode) if self._kcode else np.zeros(0, np.int64)
        dur = np.concatenate(self._dur) if self._dur else np.zeros(0)
        n_traces = len(self.traces)
        keys = list(self.keys)
        # a key's parts: its task class (code, -1 for none) and its (kind, label)
        classes: dict[str, int] = {}
        kind_labels: dict[tuple[str, str], int] = {}
        key_class = np.array(
            [-1 if k[0] is None else classes.setdefault(k[0], len(classes)) for k in keys] or [0],
            np.int64,
        )
        key_kl = np.array(
            [kind_labels.setdefault((k[1], k[2]), len(kind_labels)) for k in keys] or [0],
            np.int64,
        )
        trace_class = _first_class(tcode, key_class[kcode], n_traces)
        # timing class of a row: (its trace's class, kind, label)
        tkey = (trace_class[tcode] + 1) * max(len(kind_labels), 1) + key_kl[kcode]
        uniq, mcode = _factorize(tkey)
        class_names = [None, *classes]
        kls = list(kind_labels)
        width = max(len(kls), 1)
        # a class named "-" and no class are one timing class, as in the reference
        named: dict[tuple[str, str, str], int] = {}
        remap = np.array(
            [
                named.setdefault((class_names[u // width] or "-", *kls[u % width]), len(named))
                for u in uniq.tolist()
            ]
            or [0],
            np.int64,
        )
        mcode = remap[mcode]
        mkeys = list(named)
        elig = ~np.isnan(dur)
        special = self.special
        if special:
            at = np.fromiter(special, np.int64, len(special))
            elig[at] = np.fromiter((f[8] for f in special.values()), bool, len(special))
        medians = _medians(mkeys, mcode, dur, elig, cfg)
        limits = timing_limits(medians, cfg)
        slow = np.full(len(mkeys), np.inf)
        fast = np.full(len(mkeys), -np.inf)
        for i, key in enumerate(mkeys):
            lim = limits.get(key)
            if lim is not None:
                slow[i] = lim[0]
                if cfg.flag_fast:
                    fast[i] = lim[1]
        with np.errstate(invalid="ignore"):
            timed = (dur > slow[mcode]) | (dur < fast[mcode])
        # a worker's row is final for a trace seen in one chunk only, without timing flags
        redo = np.zeros(n_traces, dtype=bool)
        redo[tcode[timed]] = True
        redo |= np.bincount(np.concatenate(self._tmaps), minlength=n_traces) > 1
        needs = redo.copy()
        if special:
            needs[tcode[at]] = True
        trace_ids = list(self.traces)
        names = np.empty(len(class_names), dtype=object)
        names[:] = class_names
        tclass_names = names[trace_class + 1].tolist()
        counts = np.bincount(tcode, minlength=n_traces).tolist()
        # (trace id, class, "clean", steps, a new empty flag list) per trace
        rows: list[AuditRow] = list(
            zip(trace_ids, tclass_names, repeat("clean"), counts, iter(list, None), strict=False)
        )
        spec = self.rows
        for code in np.flatnonzero(needs & ~redo).tolist():
            rows[code] = spec[code]
        for code, group in self._groups(tcode, kcode, dur, elig, keys, needs & redo).items():
            rows[code] = finalize(group, limits, cfg)
        # every other trace is clean without flags: summarize the rest, then count them
        touched = [rows[c] for c in np.flatnonzero(needs).tolist()]
        part = summarize(touched, medians, cfg, "fast")
        verdicts = dict(part.verdicts)
        verdicts["clean"] += n_traces - len(touched)
        summary = part.model_copy(
            update={"n_traces": n_traces, "n_steps": len(tcode), "verdicts": verdicts}
        )
        return AuditReport(rows, summary)

    def _groups(
        self,
        tcode: np.ndarray,
        kcode: np.ndarray,
        dur: np.ndarray,
        elig: np.ndarray,
        keys: list[Key],
        needs: np.ndarray,
    ) -> dict[int, list[StepFacts]]:
        """The steps (in input order) of every trace that needs the per-trace function."""
        sel = np.flatnonzero(needs[tcode])
        ts = np.concatenate(self._ts)[sel].tolist()
        idx = np.concatenate(self._idx)[sel].tolist()
        durs = dur[sel].tolist()
        eligs = elig[sel].tolist()
        trace_ids = list(self.traces)
        groups: dict[int, list[StepFacts]] = {}
        special = self.special
        # the step ids of chunks that hold a selected row
        chunk_of = np.searchsorted(np.array(self._starts), sel, side="right") - 1
        ends = [*self._starts[1:], self.n]
        sids: dict[int, list[str]] = {
            c: split_ids(self._ids[c], ends[c] - self._starts[c])
            for c in np.unique(chunk_of).tolist()
        }
        starts = self._starts
        new = tuple.__new__  # what StepFacts(...) does, without its Python-level __new__
        for j, (i, t, k, c) in enumerate(
            zip(
                sel.tolist(),
                tcode[sel].tolist(),
                kcode[sel].tolist(),
                chunk_of.tolist(),
                strict=True,
            )
        ):
            known = special.get(i)
            if known is not None:
                f = new(StepFacts, known)
            else:
                task, kind, label = keys[k]
                d = durs[j]
                f = new(StepFacts, (
                    trace_ids[t], sids[c][i - starts[c]], ts[j], idx[j], task, kind, label,
                    None if d != d else d, eligs[j], False, [],
                ))  # fmt: skip
            groups.setdefault(t, []).append(f)
        return groups


def _factorize(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted unique values, index of each value among them) of small non-negative ints."""
    if not len(codes):
        return codes, codes
    present = np.flatnonzero(np.bincount(codes))
    lookup = np.zeros(int(present[-1]) + 1, dtype=np.int64)
    lookup[present] = np.arange(len(present))
    return present, lookup[codes]


def _first_class(tcode: np.ndarray, row_class: np.ndarray, n_traces: int) -> np.ndarray:
    """Per trace: the class code of its first row (input order) that has one, else -1."""
    out = np.full(n_traces, -1, dtype=np.int64)
    has = np.flatnonzero(row_class >= 0)
    first = np.full(n_traces, len(row_class), dtype=np.int64)
    np.minimum.at(first, tcode[has], has)
    found = first < len(row_class)
    out[found] = row_class[first[found]]
    return out


def _medians(
    keys: list[tuple[str, str, str]],
    kcode: np.ndarray,
    dur: np.ndarray,
    ok: np.ndarray,
    config: AuditConfig,
) -> dict[tuple[str, str, str], ClassTiming]:
    sel = ok & ~np.isnan(dur)
    kc, dv = kcode[sel], dur[sel]
    # stable sorts of 16-bit integers are radix sorts: linear in the number of steps
    order = np.argsort(kc.astype(np.int16) if len(keys) < 2**15 else kc, kind="stable")
    kc, dv = kc[order], dv[order]
    bounds = np.searchsorted(kc, np.arange(len(keys) + 1))
    out = {}
    for code, key in enumerate(keys):
        values = dv[bounds[code] : bounds[code + 1]]
        m = len(values)
        good = m >= config.min_class_size
        out[key] = ClassTiming(
            task_class=key[0],
            kind=key[1],
            label=key[2],
            n=m,
            # np.median averages the two middle values of an even count, like statistics.median
            median_ms=float(np.median(values)) if good else None,
            state="ok" if good else "not_enough_data",
        )
    return out
