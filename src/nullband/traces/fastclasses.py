"""The fast engine's per-class arithmetic: timing classes as integer codes, each
trace's class, and the class medians, with numpy over all steps at once."""

from __future__ import annotations

import numpy as np

from nullband.traces.audit_models import AuditConfig, ClassTiming


def factorize(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted unique values, index of each value among them) of small non-negative ints."""
    if not len(codes):
        return codes, codes
    present = np.flatnonzero(np.bincount(codes))
    lookup = np.zeros(int(present[-1]) + 1, dtype=np.int64)
    lookup[present] = np.arange(len(present))
    return present, lookup[codes]


def first_class(tcode: np.ndarray, row_class: np.ndarray, n_traces: int) -> np.ndarray:
    """Per trace: the class code of its first row (input order) that has one, else -1."""
    out = np.full(n_traces, -1, dtype=np.int64)
    has = np.flatnonzero(row_class >= 0)
    first = np.full(n_traces, len(row_class), dtype=np.int64)
    np.minimum.at(first, tcode[has], has)
    found = first < len(row_class)
    out[found] = row_class[first[found]]
    return out


def class_medians(
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
