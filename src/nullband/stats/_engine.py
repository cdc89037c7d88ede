"""The resampling engine behind every paired bootstrap of a mean or a ratio of sums.

Each unit i (a case, or a cluster of cases) carries a numerator ``a_i`` and a denominator
``b_i``; a replicate is ``sum(m_i a_i) / sum(m_i b_i)`` with ``m ~ Multinomial(n, 1/n)``.
A plain mean has ``b_i = 1``; a weighted mean ``a_i = w_i d_i, b_i = w_i``; a cluster
bootstrap uses cluster sums. Three paths, chosen by cost:

* **grouped** (exact in distribution): units with equal ``(a, b)`` are one category, and a
  replicate draws the category counts from a multinomial. Binary paired data has at most
  three categories (d = -1, 0, +1), so 10,000 resamples cost O(B), not O(nB).
* **direct** (exact): draw indices, in chunks that bound memory, while n * B is small.
* **binned** (approximate, stated): sort units by ``a/b``, cut them into equal-count
  quantile bins, draw the bin counts from the exact multinomial, and replace the sum of the
  ``m_g`` draws inside bin g by a normal with the bin's mean and covariance. The error is
  confined to the within-bin variance, whose share of the total is computed and reported
  with the interval (3e-4 for the benchmark's 1,000,000 beta-distributed scores). This is
  what makes n = 1,000,000 with 10,000 resamples take about a second of CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_CATEGORIES = 1024
BINS = 512
DIRECT_BUDGET = 50_000_000
CHUNK_ELEMENTS = 4_000_000


@dataclass(frozen=True)
class Replicates:
    """Bootstrap replicates of a ratio of sums."""

    values: np.ndarray
    """The B replicate statistics (float64)."""
    observed: float
    """The statistic on the original data, computed the same way as the replicates."""
    engine: str
    """'grouped', 'direct' or 'binned'."""
    note: str | None
    """A note on the approximation, for the binned path."""
    numerators: np.ndarray | None = None
    """For the grouped path with unit denominators: the replicate sums (exact lattice)."""
    observed_numerator: float | None = None
    """The observed numerator sum, computed the same way as ``numerators``."""


def _chunks(total: int, width: int) -> list[int]:
    size = max(1, CHUNK_ELEMENTS // max(1, width))
    out = []
    left = total
    while left > 0:
        out.append(min(size, left))
        left -= out[-1]
    return out


def ratio_replicates(
    a: np.ndarray,
    b: np.ndarray | None,
    resamples: int,
    rng: np.random.Generator,
    *,
    allow_binned: bool = True,
) -> Replicates:
    """Bootstrap replicates of ``sum(a)/sum(b)`` (``b`` None means all ones).

    Args:
        a: per-unit numerators, shape (n,), n >= 1.
        b: per-unit positive denominators, or None.
        resamples: B.
        rng: the generator (the caller stores its seed).
        allow_binned: fall back to the binned path when the exact ones are too costly.
    """
    a = np.asarray(a, dtype=np.float64)
    n = a.shape[0]
    if b is None:
        vals, counts = np.unique(a, return_counts=True)
        den_vals = None
    else:
        b = np.asarray(b, dtype=np.float64)
        pairs, counts = np.unique(np.stack([a, b], axis=1), axis=0, return_counts=True)
        vals, den_vals = pairs[:, 0], pairs[:, 1]
    k = vals.shape[0]
    if k <= MAX_CATEGORIES:
        return _grouped(vals, den_vals, counts, n, resamples, rng)
    if n * resamples <= DIRECT_BUDGET or not allow_binned:
        return _direct(a, b, resamples, rng)
    return _binned(a, b, resamples, rng)


def _grouped(
    vals: np.ndarray,
    den_vals: np.ndarray | None,
    counts: np.ndarray,
    n: int,
    resamples: int,
    rng: np.random.Generator,
) -> Replicates:
    k = vals.shape[0]
    p = counts / n
    num = np.empty(resamples)
    den = np.empty(resamples) if den_vals is not None else None
    start = 0
    for size in _chunks(resamples, k):
        m = rng.multinomial(n, p, size=size).astype(np.float64)
        num[start : start + size] = m @ vals
        if den is not None and den_vals is not None:
            den[start : start + size] = m @ den_vals
        start += size
    obs_num = float(counts.astype(np.float64) @ vals)
    if den is None or den_vals is None:
        return Replicates(num / n, obs_num / n, "grouped", None, num, obs_num)
    obs_den = float(counts.astype(np.float64) @ den_vals)
    return Replicates(num / den, obs_num / obs_den, "grouped", None)


def _direct(
    a: np.ndarray, b: np.ndarray | None, resamples: int, rng: np.random.Generator
) -> Replicates:
    n = a.shape[0]
    out = np.empty(resamples)
    start = 0
    for size in _chunks(resamples, n):
        idx = rng.integers(0, n, size=(size, n))
        num = a[idx].sum(axis=1)
        den = b[idx].sum(axis=1) if b is not None else float(n)
        out[start : start + size] = num / den
        start += size
    observed = float(a.sum() / (b.sum() if b is not None else n))
    return Replicates(out, observed, "direct", None)


def _binned(
    a: np.ndarray, b: np.ndarray | None, resamples: int, rng: np.random.Generator
) -> Replicates:
    n = a.shape[0]
    bb = np.ones(n) if b is None else b
    order = np.argsort(a / bb, kind="stable")
    edges = np.linspace(0, n, BINS + 1).astype(np.int64)
    sizes = np.diff(edges).astype(np.float64)
    sa, sb = a[order], bb[order]
    cnt = np.maximum(sizes, 1.0)
    sum_a = np.add.reduceat(sa, edges[:-1])
    sum_b = np.add.reduceat(sb, edges[:-1])
    mu_a, mu_b = sum_a / cnt, sum_b / cnt
    idx_bin = np.repeat(np.arange(BINS), np.diff(edges))
    da, db = sa - mu_a[idx_bin], sb - mu_b[idx_bin]
    var_a = np.add.reduceat(da * da, edges[:-1]) / cnt
    var_b = np.add.reduceat(db * db, edges[:-1]) / cnt
    cov = np.add.reduceat(da * db, edges[:-1]) / cnt
    sd_a = np.sqrt(var_a)
    # Cholesky of each bin's 2x2 covariance: b-part = c1*Z1 + c2*Z2.
    c1 = np.divide(cov, sd_a, out=np.zeros_like(cov), where=sd_a > 0)
    c2 = np.sqrt(np.maximum(var_b - c1 * c1, 0.0))
    total_var = float(np.var(a / bb)) if b is None else float(np.var(a))
    within = float((sizes * var_a).sum() / n)
    frac = within / total_var if total_var > 0 else 0.0
    p = sizes / n
    out = np.empty(resamples)
    start = 0
    varying_b = b is not None and bool(np.any(var_b > 0))
    for size in _chunks(resamples, BINS * 3):
        m = rng.multinomial(n, p, size=size).astype(np.float64)
        root = np.sqrt(m)
        z1 = rng.standard_normal((size, BINS))
        num = m @ mu_a + (root * z1) @ sd_a
        if b is None:
            out[start : start + size] = num / n
        else:
            den = m @ mu_b + (root * z1) @ c1
            if varying_b:
                den += (root * rng.standard_normal((size, BINS))) @ c2
            out[start : start + size] = num / den
        start += size
    observed = float(a.sum() / bb.sum())
    note = (
        f"binned bootstrap: {BINS} quantile bins, exact multinomial bin counts, normal "
        f"within-bin sums; within-bin variance is {frac:.1e} of the total"
    )
    return Replicates(out, observed, "binned", note)
