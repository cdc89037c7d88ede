"""Rebuilding the rows of the traces the fast engine's reduce redoes.

A trace is redone when a span falls outside its class's timing limits or its steps lie
in several chunks. These are the parts of :class:`~nullband.traces.fastreduce.Reducer`
that turn its merged arrays back into the steps (or the one timed step) of such traces.
"""

from __future__ import annotations

import itertools

import numpy as np

from nullband.traces.audit import StepFacts, timing_flag
from nullband.traces.audit_models import AuditConfig, AuditRow, ClassTiming
from nullband.traces.msgwire import WireChunk, special_facts, step_ids_of

Key = tuple[str | None, str, str]


class RedoSteps:
    """The state these methods read, kept by :class:`~nullband.traces.fastreduce.Reducer`."""

    config: AuditConfig
    _chunks: list[WireChunk]
    _starts: list[int]

    def _groups(
        self,
        tcode: np.ndarray,
        kcode: np.ndarray,
        dur: np.ndarray,
        elig: np.ndarray,
        all_ts: np.ndarray,
        keys: list[Key],
        needs: np.ndarray,
        special: tuple[np.ndarray, np.ndarray, np.ndarray],
        trace_ids: list[str],
    ) -> dict[int, list[StepFacts]]:
        """The steps (in input order) of every trace that needs the per-trace function.

        ``special``: (global rows with the reference's facts, ascending; the chunk of
        each; its index among the chunk's flagged rows).
        """
        sel = np.flatnonzero(needs[tcode])
        ts = all_ts[sel].tolist()
        durs = dur[sel].tolist()
        eligs = elig[sel].tolist()
        idx, sids = self._idx_and_ids(sel)
        sp_rows, sp_chunk, sp_j = special
        pos = np.searchsorted(sp_rows, sel)
        hit = pos < len(sp_rows)
        hit[hit] = sp_rows[pos[hit]] == sel[hit]
        where = dict(
            zip(
                np.flatnonzero(hit).tolist(),
                zip(sp_chunk[pos[hit]].tolist(), sp_j[pos[hit]].tolist(), strict=True),
                strict=True,
            )
        )
        chunks = self._chunks
        groups: dict[int, list[StepFacts]] = {}
        new = tuple.__new__  # what StepFacts(...) does, without its Python-level __new__
        for j, (t, k) in enumerate(zip(tcode[sel].tolist(), kcode[sel].tolist(), strict=True)):
            known = where.get(j)
            if known is not None:
                f = special_facts(chunks[known[0]], known[1], trace_ids[t], sids[j], idx[j])
            else:
                task, kind, label = keys[k]
                d = durs[j]
                f = new(StepFacts, (
                    trace_ids[t], sids[j], ts[j], idx[j], task, kind, label,
                    None if d != d else d, eligs[j], False, [],
                ))  # fmt: skip
            groups.setdefault(t, []).append(f)
        return groups

    def _timed_steps(
        self,
        tcode: np.ndarray,
        kcode: np.ndarray,
        dur: np.ndarray,
        all_ts: np.ndarray,
        keys: list[Key],
        sel: np.ndarray,
        trace_ids: list[str],
        cls_of: np.ndarray,
    ) -> dict[int, list[StepFacts]]:
        """The rows ``sel`` (timed steps of traces that lie in one chunk and have no
        other step that can carry a flag) as steps, grouped by trace, each with its
        trace's class (``cls_of``, an object array by trace): :func:`finalize` of such a
        group gives the trace's verdict and flags (the trace's other steps add none: no
        flag, no error, no timing flag)."""
        ts = all_ts[sel].tolist()
        durs = dur[sel].tolist()
        idx, sids = self._idx_and_ids(sel)
        groups: dict[int, list[StepFacts]] = {}
        new = tuple.__new__
        for j, (t, k) in enumerate(zip(tcode[sel].tolist(), kcode[sel].tolist(), strict=True)):
            _, kind, label = keys[k]
            tid, cls = trace_ids[t], cls_of[t]
            f = new(
                StepFacts, (tid, sids[j], ts[j], idx[j], cls, kind, label, durs[j], True, False, [])
            )
            groups.setdefault(t, []).append(f)
        return groups

    def _one_timed(
        self,
        sel: np.ndarray,
        tcode: np.ndarray,
        dur: np.ndarray,
        mcode: np.ndarray,
        mkeys: list[tuple[str, str, str]],
        limits: dict[tuple[str, str, str], tuple[float, float, ClassTiming]],
        trace_ids: list[str],
        cls_of: list[str | None],
        steps: list[int],
        out: dict[int, AuditRow] | list[AuditRow],
    ) -> None:
        """Rows (into ``out``, by trace code) of traces whose one step that can carry a
        flag is the timed step in ``sel``: what :func:`finalize` gives for one flag (or
        none, when ignored). ``steps``: each trace's step count."""
        cfg = self.config
        _, sids = self._idx_and_ids(sel)
        for j, (t, d, m) in enumerate(
            zip(tcode[sel].tolist(), dur[sel].tolist(), mcode[sel].tolist(), strict=True)
        ):
            tid, cls, n = trace_ids[t], cls_of[t], steps[t]
            flag = timing_flag(d, limits[mkeys[m]], cfg)
            if flag is None:
                row: AuditRow = (tid, cls, "clean", n, [])
            else:
                sev = cfg.verdict_of(flag[0])
                row = (tid, cls, sev, n, [(flag[0], sids[j], flag[1], sev)])
            out[t] = row

    def _idx_and_ids(self, sel: np.ndarray) -> tuple[list[int], list[str]]:
        """The input-order index and the step id of each of the rows ``sel`` (sorted)."""
        starts = np.array(self._starts, np.int64)
        chunk_of = np.searchsorted(starts, sel, side="right") - 1
        local = sel - starts[chunk_of]  # row within its chunk
        firsts = np.array([c.first_idx for c in self._chunks], np.int64)
        idx = (firsts[chunk_of] + local).tolist()
        out: list[str] = []
        if not len(local):
            return idx, out
        # the selected rows are sorted, so each chunk's rows are one run
        cuts = np.flatnonzero(np.diff(chunk_of)) + 1
        for a, b in itertools.pairwise([0, *cuts.tolist(), len(local)]):
            out += step_ids_of(self._chunks[int(chunk_of[a])], local[a:b])
        return idx, out
