"""What a fast-engine worker sends the parent for one chunk: few Python objects.

A :class:`~nullband.traces.msgaudit.ChunkFacts` holds the reference per-step facts of
its flagged rows as tuples (about 15 Python objects a flagged row). Unpickling those in
the parent cost more than all its other merge work, and nearly all of it is already in
the chunk's arrays. :func:`encode` turns a chunk into a :class:`WireChunk`: the per-row
arrays as they are, the flagged rows as arrays (which rows, eligible and error bits,
their flags as codes plus reason strings shared where equal), and the flagged traces'
verdicts and flag code masks (what the summary counts) with the traces whose row ends
in trace_failed. :func:`special_facts` rebuilds the reference facts of a flagged row
(for the traces the parent redoes) and :func:`flagged_rows_of` the per-trace rows of a
chunk's flagged traces (for the report's rows, when they are asked for).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from nullband.traces.audit import TRACE_FAILED, StepFacts
from nullband.traces.audit_models import AuditConfig, AuditRow
from nullband.traces.msgaudit import ChunkFacts, split_ids
from nullband.traces.msgrows import FLAG_CODES, VERDICTS

CODE_INDEX: dict[str, int] = {c: i for i, c in enumerate(FLAG_CODES)}
ELIGIBLE = 1
ERROR = 2


class WireChunk(NamedTuple):
    """A chunk's facts as the parent receives them (see the module docstring)."""

    first_idx: int
    trace_ids: list[str]
    tcode: np.ndarray
    keys: list[tuple[str | None, str, str]]
    kcode: np.ndarray
    dur: np.ndarray
    ts: np.ndarray
    step_ids: str | list[str]
    step_offs: np.ndarray | None
    sp_at: np.ndarray
    """Rows with the reference's per-step facts (flagged rows), ascending."""
    sp_bits: np.ndarray
    """Per flagged row: ``ELIGIBLE`` and ``ERROR`` bits (the facts' eligible, error)."""
    fl_start: np.ndarray
    """Per flagged row, one more: where its flags start in ``fl_code``/``fl_reason``."""
    fl_code: np.ndarray
    """Per flag: index into :data:`FLAG_CODES`."""
    fl_reason: list[str]
    """Per flag: its reason (equal reasons are one object, so pickled once)."""
    row_t: np.ndarray
    """Trace codes (in ``trace_ids``) with a flagged row."""
    row_verdict: np.ndarray
    """Per such trace: its verdict without timing limits, an index into :data:`VERDICTS`."""
    row_mask: np.ndarray
    """Per such trace: bit ``i`` set when its row carries a ``FLAG_CODES[i]`` flag."""
    fail_t: np.ndarray
    """Trace codes whose row ends in trace_failed (their last step failed)."""
    fail_row: np.ndarray
    """Per such trace: its last row."""


def encode(chunk: ChunkFacts) -> WireChunk:
    """The wire form of a chunk's facts."""
    special = chunk.special
    at = sorted(special)
    bits = bytearray(len(at))
    starts = [0] * (len(at) + 1)
    codes = bytearray()
    reasons: list[str] = []
    shared: dict[str, str] = {}
    index = CODE_INDEX
    for j, r in enumerate(at):
        f = special[r]
        bits[j] = (ELIGIBLE if f[8] else 0) | (ERROR if f[9] else 0)
        for code, why in f[10]:
            codes.append(index[code])
            reasons.append(shared.setdefault(why, why))
        starts[j + 1] = len(codes)
    ft, fv, fm = chunk.flagged
    fails = chunk.fails or {}
    return WireChunk(
        chunk.first_idx,
        chunk.trace_ids,
        chunk.tcode,
        chunk.keys,
        chunk.kcode,
        chunk.dur,
        chunk.ts,
        chunk.step_ids,
        chunk.step_offs,
        np.array(at, np.int64),
        np.frombuffer(bytes(bits), np.uint8),
        np.array(starts, np.int64),
        np.frombuffer(bytes(codes), np.uint8),
        reasons,
        np.array(ft, np.int64),
        np.array(fv, np.uint8),
        np.array(fm, np.int64),
        np.array(list(fails), np.int64),
        np.array(list(fails.values()), np.int64),
    )


def flags_of(chunk: WireChunk, j: int) -> list[tuple[str, str]]:
    """The flags (code, reason) of the chunk's ``j``-th flagged row."""
    a, b = int(chunk.fl_start[j]), int(chunk.fl_start[j + 1])
    codes = chunk.fl_code[a:b].tolist()
    return [(FLAG_CODES[c], chunk.fl_reason[a + i]) for i, c in enumerate(codes)]


def special_facts(chunk: WireChunk, j: int, trace_id: str, step_id: str, idx: int) -> StepFacts:
    """The reference per-step facts of the chunk's ``j``-th flagged row, rebuilt.

    The task class is the row's timing key's (None for an empty one, which the
    per-trace function treats as no class too).
    """
    r = int(chunk.sp_at[j])
    task, kind, label = chunk.keys[int(chunk.kcode[r])]
    d = float(chunk.dur[r])
    bits = int(chunk.sp_bits[j])
    return StepFacts(
        trace_id,
        step_id,
        float(chunk.ts[r]),
        idx,
        task,
        kind,
        label,
        None if d != d else d,
        bool(bits & ELIGIBLE),
        bool(bits & ERROR),
        flags_of(chunk, j),
    )


def flagged_rows_of(
    chunk: WireChunk,
    config: AuditConfig,
    tmap: list[int],
    cls_of: list[str | None],
    steps: list[int],
) -> dict[int, AuditRow]:
    """Trace code (in the chunk) -> the row without timing limits of each flagged trace:
    its flagged rows' flags in start order, then trace_failed where its last step
    failed (what finalize gives without limits). Final for a trace that lies in this
    chunk alone. ``tmap``: the global code of each of the chunk's traces;
    ``cls_of``/``steps``: each trace's class and step count, by global code."""
    out: dict[int, AuditRow] = {}
    at = chunk.sp_at
    if not len(at):
        return out
    t_of = chunk.tcode[at]
    order = np.lexsort((at, chunk.ts[at], t_of))  # finalize's start order, by trace
    # every flag of those rows, in that order: its code, reason and step id
    fl_start = chunk.fl_start
    per_row = (fl_start[1:] - fl_start[:-1])[order]
    first = np.repeat(fl_start[order] - np.cumsum(per_row) + per_row, per_row)
    fl = first + np.arange(len(first))
    sev = {c: config.verdict_of(c) for c in FLAG_CODES}
    names = [FLAG_CODES[c] for c in chunk.fl_code[fl].tolist()]
    reasons = chunk.fl_reason
    flags: list[tuple[str, str, str, str]] = list(
        zip(
            names,
            np.repeat(np.array(step_ids_of(chunk, at[order]), dtype=object), per_row).tolist(),
            [reasons[i] for i in fl.tolist()],
            [sev[c] for c in names],
            strict=True,
        )
    )
    # one row per trace: its flags are a run of that list
    t_sorted = t_of[order]
    bounds = np.flatnonzero(np.diff(t_sorted)) + 1
    traces = t_sorted[np.concatenate(([0], bounds))].tolist()
    ends = np.cumsum(per_row)[np.concatenate((bounds - 1, [len(order) - 1]))].tolist()
    verdict = dict(zip(chunk.row_t.tolist(), chunk.row_verdict.tolist(), strict=True))
    failed = dict(
        zip(
            chunk.fail_t.tolist(),
            step_ids_of(chunk, chunk.fail_row) if len(chunk.fail_row) else [],
            strict=True,
        )
    )
    tid = chunk.trace_ids
    lo = 0
    for t, hi in zip(traces, ends, strict=True):
        g = tmap[t]
        row_flags = flags[lo:hi]
        sid = failed.get(t)
        if sid is not None:
            row_flags.append(("trace_failed", sid, TRACE_FAILED, sev["trace_failed"]))
        out[t] = (tid[t], cls_of[g], VERDICTS[verdict[t]], steps[g], row_flags)
        lo = hi
    return out


def step_ids_of(chunk: WireChunk, rows: np.ndarray) -> list[str]:
    """The step ids of the chunk's ``rows``: sliced by the scanner's offsets where the
    chunk has them, else from its split ids."""
    ids, offs = chunk.step_ids, chunk.step_offs
    if isinstance(ids, str) and offs is not None:
        lo, hi = offs[rows].tolist(), (offs[rows + 1] - 1).tolist()
        return [ids[a:b] for a, b in zip(lo, hi, strict=True)]
    every = split_ids(ids, len(chunk.tcode))
    return [every[r] for r in rows.tolist()]


def mask_counts(masks: np.ndarray) -> dict[str, int]:
    """Rows carrying each flag code, from their code masks (codes with none left out)."""
    out: dict[str, int] = {}
    if not len(masks):
        return out
    for i, code in enumerate(FLAG_CODES):
        c = int(np.count_nonzero(masks & (1 << i)))
        if c:
            out[code] = c
    return out


__all__ = [
    "CODE_INDEX",
    "WireChunk",
    "encode",
    "flagged_rows_of",
    "flags_of",
    "mask_counts",
    "special_facts",
    "step_ids_of",
]
