"""The workers' verdicts and per-trace rows of their flagged traces (the fast engine's
side of :func:`~nullband.traces.audit.finalize`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, get_args

import numpy as np

from nullband.traces.audit import AuditContext, StepFacts, finalize
from nullband.traces.audit_models import AuditConfig, AuditRow, FlagCode

FLAG_CODES: tuple[str, ...] = get_args(FlagCode)
"""Every flag code, in a fixed order: bit ``i`` of a row's code mask is ``FLAG_CODES[i]``."""
CODE_BIT: dict[str, int] = {c: 1 << i for i, c in enumerate(FLAG_CODES)}
VERDICTS: tuple[str, ...] = ("clean", "noisy", "corrupted")


def code_mask(flags: list[tuple[str, str, str, str]]) -> int:
    """The flag code mask of a row's flags."""
    m = 0
    for fl in flags:
        m |= CODE_BIT[fl[0]]
    return m


def flag_verdicts(
    config: AuditConfig, tcode: np.ndarray, special: dict[int, Any]
) -> tuple[tuple[list[int], list[int], list[int]], set[int]]:
    """Per trace with a special row: its verdict without timing limits and its flag codes.

    Without timing limits, :func:`finalize`'s flags are the special rows' flags (the
    other rows have none) plus trace_failed when the trace's last step failed; its
    verdict is the worst of their severities. Traces with a failed special row are
    returned apart (their last step decides trace_failed: the caller runs finalize);
    for every other trace the row is exactly its special rows' flags in start order.

    Returns ((trace codes, verdict indexes into VERDICTS, flag code masks), the codes
    of traces with a failed special row).
    """
    rank = {c: VERDICTS.index(config.verdict_of(c)) for c in FLAG_CODES}
    rows = list(special)
    found: dict[int, list[int]] = {}
    failed: set[int] = set()
    for r, t in zip(rows, tcode[np.array(rows, np.int64)].tolist(), strict=True):
        f = special[r]
        got = found.get(t)
        if got is None:
            got = found[t] = [0, 0]
        if f[9]:
            failed.add(t)
        for code, _ in f[10]:
            v = rank[code]
            if v > got[0]:
                got[0] = v
            got[1] |= CODE_BIT[code]
    return (list(found), [v for v, _ in found.values()], [m for _, m in found.values()]), failed


def flagged_rows(
    ctx: AuditContext,
    first_idx: int,
    trace_ids: list[str],
    tcode: np.ndarray,
    keys: list[tuple[str | None, str, str]],
    kcode: np.ndarray,
    dur: np.ndarray,
    ts: np.ndarray,
    sid_of: Callable[[int], str],
    special: dict[int, StepFacts],
) -> dict[int, AuditRow]:
    """Trace code -> :func:`finalize` (without timing limits) of the chunk's steps of
    each trace with a special row.

    Without timing limits only the special rows (their flags) and the trace's last
    step (whether it failed) can add to a row, so finalize runs on those steps alone;
    the row then gets the trace's class and step count from all its steps.
    """
    at = np.sort(np.fromiter(special, np.int64, len(special)))
    flagged = np.unique(tcode[at])
    sel = np.flatnonzero(np.isin(tcode, flagged))  # their rows, in input order
    # the last step of each: the latest start, then the latest row, as finalize picks it
    by = sel[np.lexsort((sel, ts[sel], tcode[sel]))]
    last = by[np.append(np.flatnonzero(np.diff(tcode[by])), len(by) - 1)]
    # the class of each: that of its first row with one
    has = np.array([k[0] is not None for k in keys], dtype=bool)[kcode[sel]]
    ct, first = np.unique(tcode[sel][has], return_index=True)
    cls: dict[int, str | None] = dict.fromkeys(flagged.tolist())
    cls.update(zip(ct.tolist(), (keys[k][0] for k in kcode[sel][has][first].tolist()), strict=True))
    counts = np.bincount(tcode, minlength=len(trace_ids))
    need = np.union1d(at, last)
    groups: dict[int, list[StepFacts]] = {}
    new = tuple.__new__  # what StepFacts(...) does, without its Python-level __new__
    for r, t, k, d, ts_r in zip(
        need.tolist(),
        tcode[need].tolist(),
        kcode[need].tolist(),
        dur[need].tolist(),
        ts[need].tolist(),
        strict=True,
    ):
        known = special.get(r)
        if known is not None:
            f = known
        else:
            task, kind, label = keys[k]
            none = d != d
            f = new(StepFacts, (
                trace_ids[t], sid_of(r), ts_r, first_idx + r, task, kind, label,
                None if none else d, not none, False, [],
            ))  # fmt: skip
        groups.setdefault(t, []).append(f)
    cfg = ctx.config
    verdict_of = cfg.verdict_of
    out: dict[int, AuditRow] = {}
    n = counts.tolist()
    for t, g in groups.items():
        with_flags = [f for f in g if f[10]]
        if len(with_flags) == 1 and len(with_flags[0][10]) == 1 and not any(f[9] for f in g):
            # one flag and no failed step (so no trace_failed): finalize's row is that
            # flag, with the verdict its severity gives
            f = with_flags[0]
            code, reason = f[10][0]
            sev = verdict_of(code)
            out[t] = (f[0], cls[t], sev, n[t], [(code, f[1], reason, sev)])
            continue
        tid, _, verdict, _, flags = finalize(g, {}, cfg)
        out[t] = (tid, cls[t], verdict, n[t], flags)
    return out
