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

import gc
from itertools import repeat

import numpy as np

from nullband.traces.audit import finalize, summarize, timing_limits
from nullband.traces.audit_models import AuditConfig, AuditReport, AuditRow
from nullband.traces.fastclasses import class_medians, factorize, first_class
from nullband.traces.fastredo import Key, RedoSteps
from nullband.traces.msgaudit import ChunkFacts
from nullband.traces.msgrows import VERDICTS
from nullband.traces.msgwire import ELIGIBLE, WireChunk, encode, flagged_rows_of, mask_counts


class Reducer(RedoSteps):
    """Accumulates chunk facts in input order, then computes the report."""

    def __init__(self, config: AuditConfig) -> None:
        self.config = config
        self.traces: dict[str, int] = {}
        self.keys: dict[Key, int] = {}
        self._chunks: list[WireChunk] = []
        self._tcode: list[np.ndarray] = []
        self._kcode: list[np.ndarray] = []
        self._starts: list[int] = []
        self._tmaps: list[np.ndarray] = []
        """Per chunk: the global code of each of its trace ids."""
        self._at: list[np.ndarray] = []
        self._at_elig: list[np.ndarray] = []
        self._at_chunk: list[np.ndarray] = []
        """Per chunk with flagged rows: their global rows, whether each is eligible for
        its class's median, and the chunk (its index) they came in."""
        self._w_code: list[np.ndarray] = []
        self._w_verdict: list[np.ndarray] = []
        self._w_mask: list[np.ndarray] = []
        """Per chunk with workers' rows: their global trace codes, verdicts, flag masks."""
        self.n = 0

    def add(self, chunk: WireChunk | ChunkFacts) -> None:
        """Merge one chunk (chunks must come in file order)."""
        if isinstance(chunk, ChunkFacts):
            chunk = encode(chunk)
        traces, keys = self.traces, self.keys
        ids = chunk.trace_ids
        n0 = len(traces)
        seen = traces.keys() & ids  # usually none, or the trace cut at the chunk's start
        if not seen:  # all new (a chunk's ids are unique)
            traces.update(zip(ids, range(n0, n0 + len(ids)), strict=True))
            tmap = np.arange(n0, n0 + len(ids), dtype=np.int64)
        else:
            tmap = self._map_ids(ids, seen)
        kmap = np.array([keys.setdefault(k, len(keys)) for k in chunk.keys], np.int64)
        rows = len(chunk.tcode)
        ci = len(self._chunks)
        self._chunks.append(chunk)
        self._tcode.append(tmap[chunk.tcode] if rows else chunk.tcode)
        self._kcode.append(kmap[chunk.kcode] if rows else chunk.kcode)
        self._starts.append(self.n)
        m = len(chunk.sp_at)
        if m:
            self._at.append(chunk.sp_at + self.n)
            self._at_elig.append((chunk.sp_bits & ELIGIBLE).astype(bool))
            self._at_chunk.append(np.full(m, ci, np.int64))
        if len(chunk.row_t):
            self._w_code.append(tmap[chunk.row_t])
            self._w_verdict.append(chunk.row_verdict)
            self._w_mask.append(chunk.row_mask)
        self._tmaps.append(tmap)
        self.n += rows

    def _map_ids(self, ids: list[str], seen: set[str]) -> np.ndarray:
        """Global codes of a chunk's trace ids, some of them ``seen`` in earlier chunks
        (new ones numbered in order)."""
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
        return tmap

    def report(self) -> AuditReport:
        """The audit report of everything added."""
        cfg = self.config
        tcode = _cat(self._tcode, np.int64)
        kcode = _cat(self._kcode, np.int64)
        dur = _cat([c.dur for c in self._chunks], np.float64)
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
        at = _cat(self._at, np.int64)
        if len(at):
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
            timed = dur > slow[mcode]
            if cfg.flag_fast:
                timed |= dur < fast[mcode]
        # a worker's row is final for a trace seen in one chunk only, without timing flags
        tmaps = _cat(self._tmaps, np.int64)
        multi = np.bincount(tmaps, minlength=n_traces) > 1
        flagged = np.zeros(n_traces, dtype=bool)
        flagged[tcode[at]] = True
        timed_at = np.flatnonzero(timed)
        redo = multi.copy()
        redo[tcode[timed_at]] = True
        needs = redo | flagged
        # redone in full: a trace with a worker's row or in several chunks; every other
        # redone trace lies in one chunk and only its timed steps can carry a flag
        full = redo & (multi | flagged)
        only_timed = timed_at[(redo & ~full)[tcode[timed_at]]]
        # the workers' rows count unless their trace is redone here
        w_code = _cat(self._w_code, np.int64)
        kept = ~redo[w_code]
        per_verdict = np.bincount(_cat(self._w_verdict, np.uint8)[kept], minlength=3).tolist()
        verdicts = dict(zip(VERDICTS, per_verdict, strict=True))
        flag_counts = mask_counts(_cat(self._w_mask, np.int64)[kept])
        trace_ids = list(self.traces)
        obj = np.empty(len(class_names), dtype=object)
        obj[:] = class_names
        cls_of = obj[trace_class + 1]  # per trace: its class (an object array)
        steps = np.bincount(tcode, minlength=n_traces)  # per trace: its step count
        ts = _cat([c.ts for c in self._chunks], np.float64)
        special = (at, _cat(self._at_chunk, np.int64), _local_index(self._at))
        redone: dict[int, AuditRow] = {}
        for code, group in self._groups(
            tcode, kcode, dur, elig, ts, keys, full, special, trace_ids
        ).items():
            redone[code] = finalize(group, limits, cfg)
        # a trace with one timed step: its row is that step's timing flag (counted here,
        # the row itself built with the others when they are asked for)
        per = np.bincount(tcode[only_timed], minlength=n_traces)[tcode[only_timed]]
        one_timed = only_timed[per == 1]
        _count_timed(dur[one_timed], slow[mcode[one_timed]], cfg, verdicts, flag_counts)
        for code, group in self._timed_steps(
            tcode, kcode, dur, ts, keys, only_timed[per > 1], trace_ids, cls_of
        ).items():
            tid, cls, verdict, _, flags = finalize(group, limits, cfg)
            redone[code] = (tid, cls, verdict, int(steps[code]), flags)
        # every other trace is clean without flags: summarize the new rows, add the rest
        part = summarize(list(redone.values()), medians, cfg, "fast")
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
        chunks, tmaps_by_chunk = self._chunks, self._tmaps

        def rows() -> list[AuditRow]:
            was_enabled = gc.isenabled()
            gc.disable()  # hundreds of thousands of acyclic tuples: collection only costs
            try:
                return build()
            finally:
                if was_enabled:
                    gc.enable()

        def build() -> list[AuditRow]:
            # every trace clean without flags, then the flagged traces' rows where the
            # trace is not redone, then the redone ones
            classes: list[str | None] = cls_of.tolist()
            counts: list[int] = steps.tolist()
            out: list[AuditRow] = list(
                zip(trace_ids, classes, repeat("clean"), counts, iter(list, None), strict=False)
            )
            for chunk, tmap in zip(chunks, tmaps_by_chunk, strict=True):
                if len(chunk.row_t):
                    codes = tmap.tolist()
                    for t, row in flagged_rows_of(chunk, cfg, codes, classes, counts).items():
                        out[codes[t]] = row
            for code, row in redone.items():
                out[code] = row
            self._one_timed(
                one_timed, tcode, dur, mcode, mkeys, limits, trace_ids, classes, counts, out
            )
            return out

        return AuditReport(rows, summary)


def _count_timed(
    dur: np.ndarray,
    slow: np.ndarray,
    cfg: AuditConfig,
    verdicts: dict[str, int],
    flag_counts: dict[str, int],
) -> None:
    """Count the rows of traces whose one flag can only be the timing flag of one step
    (``dur``, its class's ``slow`` limit; the step is outside its limits): what
    :func:`~nullband.traces.audit.timing_flag` gives, a slow span above the slow limit,
    else a fast span (only flagged with ``flag_fast``); none where the code is ignored."""
    n_slow = int(np.count_nonzero(dur > slow))
    for code, n in (("slow_span", n_slow), ("fast_span", len(dur) - n_slow)):
        if not n:
            continue
        if code in cfg.ignore:
            verdicts["clean"] += n
            continue
        verdicts[cfg.verdict_of(code)] += n
        flag_counts[code] = flag_counts.get(code, 0) + n


def _cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype)


def _local_index(parts: list[np.ndarray]) -> np.ndarray:
    """For arrays concatenated: each item's index within its own array."""
    if not parts:
        return np.zeros(0, np.int64)
    return np.concatenate([np.arange(len(p), dtype=np.int64) for p in parts])
