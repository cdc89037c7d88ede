"""What a fast-engine worker sends the parent for one chunk: few Python objects.

A :class:`~nullband.traces.msgaudit.ChunkFacts` holds the reference per-step facts of
its flagged rows and the workers' per-trace rows as tuples (about 15 Python objects a
flagged row). Unpickling those in the parent cost more than all its other merge work,
and nearly all of it is already in the chunk's arrays. :func:`encode` turns a chunk into
a :class:`WireChunk`: the per-row arrays as they are, the flagged rows as arrays (which
rows, eligible and error bits, their flags as codes plus reason strings shared where
equal), and the workers' rows as arrays of what the summary counts (verdict, which flag
codes) plus one pickled blob of the rows themselves, which the parent unpickles only
when the report's rows are asked for. :func:`special_facts` rebuilds the reference
facts of any flagged row from the arrays (the parent needs them only for the traces it
redoes).
"""

from __future__ import annotations

import pickle
from typing import NamedTuple, get_args

import numpy as np

from nullband.traces.audit import StepFacts
from nullband.traces.audit_models import AuditRow, FlagCode
from nullband.traces.msgaudit import ChunkFacts

FLAG_CODES: tuple[str, ...] = get_args(FlagCode)
"""Every flag code, in a fixed order: bit ``i`` of a row's code mask is ``FLAG_CODES[i]``."""
CODE_INDEX: dict[str, int] = {c: i for i, c in enumerate(FLAG_CODES)}
VERDICTS: tuple[str, ...] = ("clean", "noisy", "corrupted")
VERDICT_INDEX: dict[str, int] = {v: i for i, v in enumerate(VERDICTS)}

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
    """Trace codes (in ``trace_ids``) the worker sent a per-trace row for."""
    row_verdict: np.ndarray
    """Per such row: index into :data:`VERDICTS`."""
    row_mask: np.ndarray
    """Per such row: bit ``i`` set when it carries a ``FLAG_CODES[i]`` flag."""
    rows_blob: bytes
    """The rows themselves (a pickled list aligned with ``row_t``), for the report."""


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
    rows = chunk.rows
    row_t = list(rows)
    verdicts = bytearray(len(row_t))
    masks = [0] * len(row_t)
    vindex = VERDICT_INDEX
    for j, row in enumerate(rows.values()):
        verdicts[j] = vindex[row[2]]
        m = 0
        for fl in row[4]:
            m |= 1 << index[fl[0]]
        masks[j] = m
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
        np.array(row_t, np.int64),
        np.frombuffer(bytes(verdicts), np.uint8),
        np.array(masks, np.int64),
        pickle.dumps(list(rows.values()), protocol=5) if rows else b"",
    )


def rows_of(chunk: WireChunk) -> list[AuditRow]:
    """The worker's per-trace rows of a chunk, aligned with ``chunk.row_t``."""
    if not chunk.rows_blob:
        return []
    rows: list[AuditRow] = pickle.loads(chunk.rows_blob)
    return rows


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
    "FLAG_CODES",
    "VERDICTS",
    "WireChunk",
    "encode",
    "flags_of",
    "mask_counts",
    "rows_of",
    "special_facts",
]
