"""The workers' per-trace rows of their flagged traces (the fast engine's side of
:func:`~nullband.traces.audit.finalize`)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nullband.traces.audit import AuditContext, StepFacts, finalize
from nullband.traces.audit_models import AuditRow


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
