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

from nullband.traces.audit import finalize, summarize, timing_limits
from nullband.traces.audit_models import AuditConfig, AuditReport, AuditRow
from nullband.traces.fastclasses import class_medians, factorize, first_class
from nullband.traces.fastredo import Key, RedoSteps
from nullband.traces.msgaudit import ChunkFacts
from nullband.traces.msgrows import count_rows


class Reducer(RedoSteps):
    """Accumulates chunk facts in input order, then computes the report."""

    def __init__(self, config: AuditConfig) -> None:
        self.config = config
        self.traces: dict[str, int] = {}
        self.keys: dict[Key, int] = {}
        self._tcode: list[np.ndarray] = []
        self._kcode: list[np.ndarray] = []
        self._dur: list[np.ndarray] = []
        self._ts: list[np.ndarray] = []
        self._ids: list[str | list[str]] = []
        self._offs: list[np.ndarray | None] = []
        self._firsts: list[int] = []
        self._starts: list[int] = []
        self.special: dict[int, tuple[Any, ...]] = {}
        self.rows: dict[int, AuditRow] = {}
        """Trace code -> the row a worker sent (the last one, for a trace in several chunks)."""
        self._rows: list[AuditRow] = []
        """The report's rows, by trace code, as far as the chunks added so far tell."""
        self._replaced: list[AuditRow] = []
        """Workers' rows of a trace that a later chunk's row replaced in ``rows``."""
        self._verdicts: dict[str, int] = {"clean": 0, "noisy": 0, "corrupted": 0}
        self._flags: dict[str, int] = {}
        """Counts (as :func:`summarize` counts) over every row the workers sent, so the
        final summary only corrects for the rows it redoes."""
        self._tmaps: list[np.ndarray] = []
        self._at: list[np.ndarray] = []
        self._at_elig: list[np.ndarray] = []
        """Per chunk: the (global) rows of ``special`` and whether each is eligible for
        its class's median."""
        self.n = 0

    def add(self, chunk: ChunkFacts) -> None:
        """Merge one chunk (chunks must come in file order)."""
        traces, keys = self.traces, self.keys
        ids = chunk.trace_ids
        n0 = len(traces)
        seen = traces.keys() & ids  # usually none, or the trace cut at the chunk's start
        if not seen:  # all new (a chunk's ids are unique)
            traces.update(zip(ids, range(n0, n0 + len(ids)), strict=True))
            tmap = np.arange(n0, n0 + len(ids), dtype=np.int64)
            fresh = None
        else:
            tmap, fresh = self._map_ids(ids, seen)
        self._add_rows(chunk, fresh)
        kmap = np.array([keys.setdefault(k, len(keys)) for k in chunk.keys], np.int64)
        rows = len(chunk.tcode)
        self._tcode.append(tmap[chunk.tcode] if rows else chunk.tcode)
        self._kcode.append(kmap[chunk.kcode] if rows else chunk.kcode)
        self._dur.append(chunk.dur)
        self._ts.append(chunk.ts)
        self._firsts.append(chunk.first_idx)
        self._ids.append(chunk.step_ids)
        self._offs.append(chunk.step_offs)
        self._starts.append(self.n)
        n = self.n
        special = self.special
        for row, facts in chunk.special.items():
            special[n + row] = facts
        if chunk.special:
            m = len(chunk.special)
            self._at.append(np.fromiter(chunk.special, np.int64, m) + n)
            self._at_elig.append(np.fromiter((f[8] for f in chunk.special.values()), bool, m))
        if chunk.rows:
            codes = tmap.tolist()
            spec = self.rows
            out = self._rows
            for t, audit in chunk.rows.items():
                code = codes[t]
                old = spec.get(code)
                if old is not None:
                    self._replaced.append(old)
                spec[code] = out[code] = audit
            if chunk.counts is None:
                count_rows(chunk.rows.values(), self._verdicts, self._flags)
            else:
                verdicts, flags = chunk.counts
                for v, c in verdicts.items():
                    self._verdicts[v] += c
                for name, c in flags.items():
                    self._flags[name] = self._flags.get(name, 0) + c
        self._tmaps.append(tmap)
        self.n += rows

    def _map_ids(self, ids: list[str], seen: set[str]) -> tuple[np.ndarray, np.ndarray]:
        """Global codes of a chunk's trace ids, some of them ``seen`` in earlier chunks
        (new ones numbered in order), and which are new."""
        traces = self.traces
        n0 = len(traces)
        if len(seen) <= 16:
            pos = sorted(ids.index(t) for t in seen)
        else:
            pos = [i for i, t in enumerate(ids) if t in seen]
        fresh = np.ones(len(ids), dtype=bool)
        fresh[pos] = False
        new = list(ids)
        for i in reversed(pos):
            del new[i]
        tmap = np.empty(len(ids), dtype=np.int64)
        tmap[fresh] = np.arange(n0, n0 + len(new), dtype=np.int64)
        tmap[pos] = [traces[ids[i]] for i in pos]
        traces.update(zip(new, range(n0, n0 + len(new)), strict=True))
        return tmap, fresh

    def _add_rows(self, chunk: ChunkFacts, fresh: np.ndarray | None) -> None:
        """Rows of the chunk's new traces (``fresh``: which are new; None: all) as if
        each lay in this chunk only: (trace id, the class of its first classed row,
        "clean", its steps, a new empty flag list). A trace that also has steps in
        another chunk is redone by :meth:`report`, so its row here is never final."""
        n_ids = len(chunk.trace_ids)
        names: list[str | None] = [None]
        codes: dict[str, int] = {}
        key_class = np.array(
            [-1 if k[0] is None else codes.setdefault(k[0], len(codes)) for k in chunk.keys] or [0],
            np.int64,
        )
        names.extend(codes)
        first = first_class(chunk.tcode, key_class[chunk.kcode], n_ids)
        obj = np.empty(len(names), dtype=object)
        obj[:] = names
        cls = obj[first + 1]
        counts = np.bincount(chunk.tcode, minlength=n_ids)
        ids: list[str] = chunk.trace_ids
        if fresh is not None:
            ids = [t for t, new in zip(ids, fresh.tolist(), strict=True) if new]
            cls, counts = cls[fresh], counts[fresh]
        self._rows.extend(
            zip(ids, cls.tolist(), repeat("clean"), counts.tolist(), iter(list, None), strict=False)
        )

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
        trace_class = first_class(tcode, key_class[kcode], n_traces)
        # timing class of a row: (its trace's class, kind, label)
        tkey = (trace_class[tcode] + 1) * max(len(kind_labels), 1) + key_kl[kcode]
        uniq, mcode = factorize(tkey)
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
            at = np.concatenate(self._at)
            elig[at] = np.concatenate(self._at_elig)
        medians = class_medians(mkeys, mcode, dur, elig, cfg)
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
        tmaps = np.concatenate(self._tmaps) if self._tmaps else np.zeros(0, np.int64)
        multi = np.bincount(tmaps, minlength=n_traces) > 1
        flagged = np.zeros(n_traces, dtype=bool)
        if special:
            flagged[tcode[at]] = True
        timed_at = np.flatnonzero(timed)
        redo = multi.copy()
        redo[tcode[timed_at]] = True
        needs = redo | flagged
        # redone in full: a trace with a worker's row or in several chunks; every other
        # redone trace lies in one chunk and only its timed steps can carry a flag
        full = redo & (multi | flagged)
        only_timed = timed_at[(redo & ~full)[tcode[timed_at]]]
        # every trace's row is in place (the worker's where it sent one); redo the rest
        rows = self._rows
        spec = self.rows
        # the workers' rows were counted as they arrived: take out those redone here
        verdicts = dict(self._verdicts)
        flag_counts = dict(self._flags)
        dropped = [spec[c] for c in np.flatnonzero(redo).tolist() if c in spec]
        count_rows([*dropped, *self._replaced], verdicts, flag_counts, -1)
        new: list[AuditRow] = []
        ts = np.concatenate(self._ts) if self._ts else np.zeros(0)
        for code, group in self._groups(tcode, kcode, dur, elig, ts, keys, full).items():
            rows[code] = row = finalize(group, limits, cfg)
            new.append(row)
        # a trace with one timed step: its row is that step's timing flag
        per = np.bincount(tcode[only_timed], minlength=n_traces)[tcode[only_timed]]
        new.extend(self._one_timed(only_timed[per == 1], tcode, dur, mcode, mkeys, limits))
        for code, group in self._timed_steps(
            tcode, kcode, dur, ts, keys, only_timed[per > 1]
        ).items():
            tid, cls, verdict, _, flags = finalize(group, limits, cfg)
            rows[code] = row = (tid, cls, verdict, rows[code][3], flags)
            new.append(row)
        # every other trace is clean without flags: summarize the new rows, add the rest
        part = summarize(new, medians, cfg, "fast")
        for v, c in part.verdicts.items():
            verdicts[v] += c
        for name, c in part.flags.items():
            flag_counts[name] = flag_counts.get(name, 0) + c
        verdicts["clean"] += n_traces - int(np.count_nonzero(needs))
        summary = part.model_copy(
            update={
                "n_traces": n_traces,
                "n_steps": len(tcode),
                "verdicts": verdicts,
                "flags": {k: c for k, c in sorted(flag_counts.items()) if c},
            }
        )
        return AuditReport(rows, summary)
