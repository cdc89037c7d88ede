"""Multiple-comparison adjustments across segments: Holm (gates) and Benjamini-Hochberg."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _clean(p: Sequence[float | None]) -> tuple[np.ndarray, np.ndarray]:
    idx = np.array([i for i, v in enumerate(p) if v is not None], dtype=np.int64)
    vals = np.array([p[i] for i in idx], dtype=np.float64)
    return idx, vals


def holm(p: Sequence[float | None]) -> list[float | None]:
    """Holm step-down adjusted p-values (controls the family-wise error rate).

    p~(i) = max_{j <= i} min(1, (m - j + 1) p(j)). None entries stay None and are not
    counted in m.
    """
    out: list[float | None] = [None] * len(p)
    idx, vals = _clean(p)
    m = vals.shape[0]
    if m == 0:
        return out
    order = np.argsort(vals, kind="stable")
    adj = np.minimum(1.0, (m - np.arange(m)) * vals[order])
    adj = np.maximum.accumulate(adj)
    for rank, pos in enumerate(order):
        out[int(idx[pos])] = float(adj[rank])
    return out


def benjamini_hochberg(p: Sequence[float | None]) -> list[float | None]:
    """Benjamini-Hochberg adjusted p-values (controls the false discovery rate).

    p~(i) = min_{j >= i} min(1, m p(j) / j).
    """
    out: list[float | None] = [None] * len(p)
    idx, vals = _clean(p)
    m = vals.shape[0]
    if m == 0:
        return out
    order = np.argsort(vals, kind="stable")
    adj = np.minimum(1.0, m * vals[order] / np.arange(1, m + 1))
    adj = np.minimum.accumulate(adj[::-1])[::-1]
    for rank, pos in enumerate(order):
        out[int(idx[pos])] = float(adj[rank])
    return out
