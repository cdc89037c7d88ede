"""The workers' verdicts of their flagged traces (the fast engine's side of
:func:`~nullband.traces.audit.finalize` without timing limits)."""

from __future__ import annotations

from typing import Any, get_args

import numpy as np

from nullband.traces.audit_models import AuditConfig, FlagCode, Verdict

FLAG_CODES: tuple[str, ...] = get_args(FlagCode)
"""Every flag code, in a fixed order: bit ``i`` of a row's code mask is ``FLAG_CODES[i]``."""
CODE_BIT: dict[str, int] = {c: 1 << i for i, c in enumerate(FLAG_CODES)}
VERDICTS: tuple[str, ...] = get_args(Verdict)
"""Every verdict, best first: a verdict index orders them by severity."""


def flag_verdicts(
    config: AuditConfig, tcode: np.ndarray, ts: np.ndarray, special: dict[int, Any]
) -> tuple[tuple[list[int], list[int], list[int]], dict[int, int]]:
    """Per trace with a special row: its verdict without timing limits and its flag codes.

    Without timing limits, :func:`finalize`'s flags are the special rows' flags (the
    other rows have none) in start order, plus trace_failed (last) when the trace's last
    step (the latest start, then the latest row) failed and the code is not ignored; its
    verdict is the worst of their severities.

    Returns ((trace codes, verdict indexes into VERDICTS, flag code masks), trace code
    -> its last row, for the traces that get trace_failed).
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
    fails: dict[int, int] = {}
    if failed and "trace_failed" not in config.ignore:
        # only a special row can fail (an error is a step_error flag, kept even when
        # ignored), so a trace with none has no failed last step
        sel = np.flatnonzero(np.isin(tcode, np.fromiter(failed, np.int64, len(failed))))
        by = sel[np.lexsort((sel, ts[sel], tcode[sel]))]
        for r in by[np.append(np.flatnonzero(np.diff(tcode[by])), len(by) - 1)].tolist():
            f = special.get(r)
            if f is not None and f[9]:
                t = int(tcode[r])
                fails[t] = r
                got = found[t]
                got[0] = max(got[0], rank["trace_failed"])
                got[1] |= CODE_BIT["trace_failed"]
    return (list(found), [v for v, _ in found.values()], [m for _, m in found.values()]), fails
