"""The fast engine's reduce: class medians and verdicts over columns of step facts.

Same answers as :func:`nullband.traces.audit.audit_groups`, cheaper for large corpora:
medians are computed with numpy per class, and only traces that can carry a flag (a
step flag, an error, or a span outside its class's timing limits) go through the shared
per-trace function :func:`~nullband.traces.audit.finalize`; every other trace is clean
by construction and gets its row directly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nullband.traces.audit import StepFacts, finalize, summarize, timing_limits
from nullband.traces.audit_models import AuditConfig, AuditReport, AuditRow, ClassTiming

Columns = list[list[Any]]
"""The eleven StepFacts fields as columns, rows in input order."""


def reduce_columns(cols: Columns, config: AuditConfig) -> AuditReport:
    """Audit report from step-fact columns (rows in input order)."""
    (tids, sids, tss, idxs, tcls, kinds, labels, durs, elig, errs, flags) = cols
    n = len(tids)
    codes: dict[str, int] = {}
    tcode = np.fromiter((codes.setdefault(t, len(codes)) for t in tids), dtype=np.int64, count=n)
    n_traces = len(codes)
    trace_ids = list(codes)
    trace_cls: list[str | None] = [None] * n_traces
    for code, tc in zip(tcode.tolist(), tcls, strict=True):
        if tc is not None and trace_cls[code] is None:
            trace_cls[code] = tc
    keys: dict[tuple[str, str, str], int] = {}
    kcode = np.fromiter(
        (
            keys.setdefault((trace_cls[c] or "-", k, lab), len(keys))
            for c, k, lab in zip(tcode.tolist(), kinds, labels, strict=True)
        ),
        dtype=np.int64,
        count=n,
    )
    dur = np.array([np.nan if d is None else d for d in durs], dtype=np.float64)
    ok = np.fromiter(elig, dtype=bool, count=n)
    medians = _medians(keys, kcode, dur, ok, config)
    limits = timing_limits(medians, config)
    slow = np.full(len(keys), np.inf)
    fast = np.full(len(keys), -np.inf)
    for key, (hi, lo, _) in limits.items():
        slow[keys[key]] = hi
        if config.flag_fast:
            fast[keys[key]] = lo
    with np.errstate(invalid="ignore"):
        timed = (dur > slow[kcode]) | (dur < fast[kcode])
    flagged = np.fromiter((bool(f) for f in flags), dtype=bool, count=n)
    errors = np.fromiter(errs, dtype=bool, count=n)
    needs = np.zeros(n_traces, dtype=bool)
    needs[tcode[timed | flagged | errors]] = True
    steps_per_trace = np.bincount(tcode, minlength=n_traces)
    groups: dict[int, list[StepFacts]] = {}
    for i in np.flatnonzero(needs[tcode]).tolist():
        groups.setdefault(int(tcode[i]), []).append(
            StepFacts(
                tids[i],
                sids[i],
                tss[i],
                idxs[i],
                tcls[i],
                kinds[i],
                labels[i],
                durs[i],
                elig[i],
                errs[i],
                flags[i],
            )
        )
    rows: list[AuditRow] = []
    counts = steps_per_trace.tolist()
    for code in range(n_traces):
        group = groups.get(code)
        if group is None:
            rows.append((trace_ids[code], trace_cls[code], "clean", counts[code], []))
        else:
            rows.append(finalize(group, limits, config))
    return AuditReport(rows, summarize(rows, medians, config, "fast"))


def _medians(
    keys: dict[tuple[str, str, str], int],
    kcode: np.ndarray,
    dur: np.ndarray,
    ok: np.ndarray,
    config: AuditConfig,
) -> dict[tuple[str, str, str], ClassTiming]:
    sel = ok & ~np.isnan(dur)
    kc, dv = kcode[sel], dur[sel]
    order = np.argsort(kc, kind="stable")
    kc, dv = kc[order], dv[order]
    bounds = np.searchsorted(kc, np.arange(len(keys) + 1))
    out = {}
    for key, code in keys.items():
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
