"""Seeded bootstrap intervals: paired binary (multinomial on the cell counts, plus the
exact infinite-resample distribution), means and ratios (weighted, clustered), and a
generic helper for any statistic (used for agreement statistics such as kappa).

Percentile intervals by default; BCa on request (mid-rank bias correction, jackknife
acceleration, integer comparisons on lattice statistics).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy import stats as _st

from nullband.stats._binary_fast import MAX_FFT_N, binary_pmf_fft, histogram_quantile
from nullband.stats._engine import Replicates, ratio_replicates
from nullband.stats._result import Interval, SeedLike, check_level, make_rng

CIMethod = Literal["percentile", "bca"]


@dataclass(frozen=True)
class BootstrapResult:
    """A bootstrap estimate with its interval and (optionally) its replicates."""

    estimate: float
    """The statistic on the original data."""
    interval: Interval
    """The interval (method, level, n, seed and resamples inside)."""
    se: float | None
    """Standard deviation of the replicates (ddof 1); None when not computed."""
    engine: str = "direct"
    """Which resampling path produced the replicates."""
    replicates: np.ndarray | None = field(default=None, repr=False)
    """The replicates, kept for plotting and checks."""


def _q(values: np.ndarray, q: float) -> float:
    # The smallest replicate whose ECDF reaches q: the same rule as the exact bootstrap.
    return float(np.quantile(values, q, method="inverted_cdf"))


def percentile_limits(values: np.ndarray, confidence: float) -> tuple[float, float]:
    """Percentile interval [G^-1(a/2), G^-1(1-a/2)] of replicates (inverted CDF)."""
    alpha = 1.0 - confidence
    return _q(values, alpha / 2), _q(values, 1 - alpha / 2)


def bca_limits(
    values: np.ndarray,
    observed: float,
    acceleration: float,
    confidence: float,
    *,
    lattice: tuple[np.ndarray, float] | None = None,
) -> tuple[float, float] | str:
    """BCa limits, or the reason they cannot be computed.

    Args:
        values: replicates.
        observed: the statistic on the data.
        acceleration: the jackknife acceleration a.
        confidence: level.
        lattice: optional (integer replicate sums, observed integer sum) used for the
            bias correction so ties are counted exactly on a lattice statistic.
    """
    cmp_vals, cmp_obs = (values, observed) if lattice is None else lattice
    b = cmp_vals.shape[0]
    less = int(np.count_nonzero(cmp_vals < cmp_obs))
    equal = int(np.count_nonzero(cmp_vals == cmp_obs))
    prop = (less + 0.5 * equal) / b
    if prop <= 0.0 or prop >= 1.0:
        return "every resample fell on one side of the estimate: BCa bias correction is infinite"
    z0 = float(_st.norm.ppf(prop))
    alpha = 1.0 - confidence
    levels = []
    for zq in (_st.norm.ppf(alpha / 2), _st.norm.ppf(1 - alpha / 2)):
        denom = 1.0 - acceleration * (z0 + zq)
        if denom <= 0:
            return "BCa acceleration too large for this level"
        levels.append(float(_st.norm.cdf(z0 + (z0 + zq) / denom)))
    if not all(0.0 < lv < 1.0 for lv in levels):
        return "BCa adjusted levels fell outside (0, 1)"
    return _q(values, levels[0]), _q(values, levels[1])


def _acceleration_ratio(a: np.ndarray, b: np.ndarray | None) -> float:
    """Jackknife acceleration of sum(a)/sum(b), in O(n)."""
    n = a.shape[0]
    if n < 3:
        return 0.0
    bb = np.ones(n) if b is None else b
    sa, sb = a.sum(), bb.sum()
    theta_i = (sa - a) / (sb - bb)
    u = (n - 1) * (theta_i.mean() - theta_i)
    s2 = float(np.sum(u * u))
    if s2 <= 0:
        return 0.0
    return float(np.sum(u**3) / (6.0 * s2**1.5))


def _from_replicates(
    reps: Replicates,
    *,
    n: int,
    confidence: float,
    method: CIMethod,
    acceleration: float,
    seed: int | None,
    resamples: int,
    label: str,
    keep: bool,
) -> BootstrapResult:
    values = reps.values
    se = float(np.std(values, ddof=1)) if values.shape[0] > 1 else None
    name = f"{label}-{method}"
    if method == "bca":
        lattice = (
            (reps.numerators, reps.observed_numerator)
            if reps.numerators is not None and reps.observed_numerator is not None
            else None
        )
        lim = bca_limits(values, reps.observed, acceleration, confidence, lattice=lattice)
        if isinstance(lim, str):
            iv = Interval.unavailable(lim, level=confidence, method=name, n=n, seed=seed)
            return BootstrapResult(reps.observed, iv, se, reps.engine, values if keep else None)
        lo, hi = lim
    else:
        lo, hi = percentile_limits(values, confidence)
    iv = Interval(
        lo=lo,
        hi=hi,
        level=confidence,
        method=name,
        n=n,
        seed=seed,
        resamples=resamples,
        reason=reps.note,
    )
    return BootstrapResult(reps.observed, iv, se, reps.engine, values if keep else None)


def paired_binary_bootstrap(
    baseline_only: int,
    candidate_only: int,
    n: int,
    *,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: SeedLike = 0,
    method: CIMethod = "percentile",
    keep_replicates: bool = False,
) -> BootstrapResult:
    """Paired bootstrap of a pass-rate difference from its discordant counts, in O(B).

    Resampling n cases with replacement is the same in distribution as drawing the four
    cell counts from Multinomial(n; n11/n, n10/n, n01/n, n00/n); only the discordant cells
    move the difference, so a replicate is (n01* - n10*)/n. The law of n01* - n10* is
    computed once by FFT and the B replicates are drawn as one multinomial histogram over
    it (see ``_binary_fast``): the same distribution, in well under a millisecond.

    Args:
        baseline_only: n10, cases only the baseline passed.
        candidate_only: n01, cases only the candidate passed.
        n: all paired cases.

    Example:
        >>> r = paired_binary_bootstrap(49, 67, 840, seed=0)
        >>> [round(x * 100, 1) for x in r.interval.as_list()]
        [-0.4, 4.6]
    """
    check_level(confidence)
    rng, s = make_rng(seed)
    d = np.zeros(n)
    d[:baseline_only] = -1.0
    d[baseline_only : baseline_only + candidate_only] = 1.0
    acc = _acceleration_ratio(d, None) if method == "bca" else 0.0
    if n > MAX_FFT_N or baseline_only + candidate_only == 0:
        reps = ratio_replicates(d, None, resamples, rng)
        return _from_replicates(
            reps,
            n=n,
            confidence=confidence,
            method=method,
            acceleration=acc,
            seed=s,
            resamples=resamples,
            label="paired-bootstrap",
            keep=keep_replicates,
        )
    ks, pmf = binary_pmf_fft(baseline_only, candidate_only, n)
    counts = rng.multinomial(resamples, pmf)
    cum = np.cumsum(counts)
    observed = candidate_only - baseline_only
    name = f"paired-bootstrap-{method}"
    mean = float(counts @ ks) / resamples
    se = float(np.sqrt(max(float(counts @ (ks - mean) ** 2) / (resamples - 1), 0.0))) / n
    values = np.repeat(ks, counts) / n if keep_replicates else None
    alpha = 1.0 - confidence
    levels = (alpha / 2, 1 - alpha / 2)
    if method == "bca":
        less = int(counts[ks < observed].sum())
        equal = int(counts[ks == observed].sum())
        prop = (less + 0.5 * equal) / resamples
        if not 0.0 < prop < 1.0:
            iv = Interval.unavailable(
                "every resample fell on one side of the estimate: BCa bias correction is infinite",
                level=confidence,
                method=name,
                n=n,
                seed=s,
            )
            return BootstrapResult(observed / n, iv, se, "histogram", values)
        z0 = float(_st.norm.ppf(prop))
        adj = []
        for zq in (_st.norm.ppf(levels[0]), _st.norm.ppf(levels[1])):
            adj.append(float(_st.norm.cdf(z0 + (z0 + zq) / (1.0 - acc * (z0 + zq)))))
        levels = (adj[0], adj[1])
    lo = histogram_quantile(ks, cum, resamples, levels[0]) / n
    hi = histogram_quantile(ks, cum, resamples, levels[1]) / n
    iv = Interval(
        lo=lo,
        hi=hi,
        level=confidence,
        method=name,
        n=n,
        seed=s,
        resamples=resamples,
    )
    return BootstrapResult(observed / n, iv, se, "histogram", values)


def exact_binary_bootstrap_pmf(
    baseline_only: int, candidate_only: int, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """The exact (B = infinity) bootstrap distribution of K* = n01* - n10*.

    P(K* = k) = sum_m Bin(m; n, psi) Bin((k + m)/2; m, n01/D), psi = D/n, D = n10 + n01.

    Returns:
        (k values from -n to n, their probabilities).
    """
    ks = np.arange(-n, n + 1)
    pmf = np.zeros(2 * n + 1)
    dsum = baseline_only + candidate_only
    if dsum == 0:
        pmf[n] = 1.0
        return ks, pmf
    psi = dsum / n
    pi = candidate_only / dsum
    pm = _st.binom.pmf(np.arange(n + 1), n, psi)
    for m in np.nonzero(pm > 1e-300)[0]:
        j = np.arange(m + 1)
        pmf[(2 * j - m) + n] += pm[m] * _st.binom.pmf(j, m, pi)
    return ks, pmf


def exact_binary_percentile_interval(
    baseline_only: int, candidate_only: int, n: int, confidence: float = 0.95
) -> Interval:
    """Percentile interval of the exact bootstrap: [Q(a/2), Q(1-a/2)]/n, Q = smallest k
    with CDF >= q. Seed-free; the reference for the Monte Carlo version."""
    ks, pmf = exact_binary_bootstrap_pmf(baseline_only, candidate_only, n)
    cdf = np.cumsum(pmf)
    alpha = 1.0 - confidence
    tol = 1e-12  # cumulative rounding of ~2n terms
    lo = ks[np.searchsorted(cdf, alpha / 2 - tol)]
    hi = ks[np.searchsorted(cdf, 1 - alpha / 2 - tol)]
    return Interval(
        lo=float(lo) / n,
        hi=float(hi) / n,
        level=confidence,
        method="exact-bootstrap-percentile",
        n=n,
    )


def bootstrap_mean(
    values: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    clusters: np.ndarray | None = None,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: SeedLike = 0,
    method: CIMethod = "percentile",
    keep_replicates: bool = False,
) -> BootstrapResult:
    """Bootstrap interval of a (weighted) mean, resampling cases or whole clusters.

    Used on paired differences d_i = candidate_i - baseline_i. Memory stays bounded for any
    n: n = 1,000,000 with 10,000 resamples takes about a second (see ``_engine``).

    Args:
        values: one value per case.
        weights: case weights (> 0), or None.
        clusters: a cluster label per case; clusters are resampled whole.
    """
    check_level(confidence)
    rng, s = make_rng(seed)
    x = np.asarray(values, dtype=np.float64)
    n = x.shape[0]
    if n == 0:
        iv = Interval.unavailable("no cases", level=confidence, method="bootstrap", n=0, seed=s)
        return BootstrapResult(0.0, iv, None)
    w = None if weights is None else np.asarray(weights, dtype=np.float64)
    a = x if w is None else x * w
    b = w
    label = "paired-bootstrap"
    units = n
    if clusters is not None:
        _, inv = np.unique(np.asarray(clusters), return_inverse=True)
        units = int(inv.max()) + 1
        a = np.bincount(inv, weights=a, minlength=units).astype(np.float64)
        b = np.bincount(inv, weights=np.ones(n) if w is None else w, minlength=units).astype(
            np.float64
        )
        label = "cluster-bootstrap"
    reps = ratio_replicates(a, b, resamples, rng)
    acc = _acceleration_ratio(a, b) if method == "bca" else 0.0
    return _from_replicates(
        reps,
        n=units,
        confidence=confidence,
        method=method,
        acceleration=acc,
        seed=s,
        resamples=resamples,
        label=label,
        keep=keep_replicates,
    )


def bootstrap_ci(
    statistic: Callable[..., float],
    data: Sequence[np.ndarray],
    *,
    confidence: float = 0.95,
    resamples: int = 2_000,
    seed: SeedLike = 0,
    method: CIMethod = "percentile",
    clusters: np.ndarray | None = None,
) -> BootstrapResult:
    """Generic seeded bootstrap for any statistic of row-paired arrays (e.g. Cohen's kappa).

    Rows (or whole clusters of rows) are resampled together across all arrays, and
    ``statistic(*resampled_arrays)`` is called once per resample. Replicates that come back
    NaN (e.g. kappa of a resample with one category) are dropped and counted in the note.

    Example:
        >>> import numpy as np
        >>> x = np.arange(20.0)
        >>> r = bootstrap_ci(lambda v: float(v.mean()), [x], resamples=500, seed=1)
        >>> r.interval.lo < 9.5 < r.interval.hi
        True
    """
    check_level(confidence)
    rng, s = make_rng(seed)
    arrays = [np.asarray(d) for d in data]
    n = arrays[0].shape[0]
    name = f"bootstrap-{method}"
    if n == 0 or any(arr.shape[0] != n for arr in arrays):
        iv = Interval.unavailable(
            "arrays are empty or of different lengths",
            level=confidence,
            method=name,
            n=n,
            seed=s,
        )
        return BootstrapResult(float("nan"), iv, None)
    if clusters is None:
        groups = [np.array([i]) for i in range(n)]
    else:
        labels = np.asarray(clusters)
        _, inv = np.unique(labels, return_inverse=True)
        groups = [np.nonzero(inv == g)[0] for g in range(int(inv.max()) + 1)]
    units = len(groups)
    estimate = float(statistic(*arrays))
    reps = np.empty(resamples)
    for r in range(resamples):
        pick = rng.integers(0, units, units)
        idx = pick if clusters is None else np.concatenate([groups[g] for g in pick])
        reps[r] = statistic(*(arr[idx] for arr in arrays))
    good = reps[np.isfinite(reps)]
    dropped = resamples - good.shape[0]
    note = f"{dropped} resamples gave no value and were dropped" if dropped else None
    if good.shape[0] < max(10, resamples // 2) or not np.isfinite(estimate):
        iv = Interval.unavailable(
            "the statistic could not be computed on the data or on most resamples",
            level=confidence,
            method=name,
            n=units,
            seed=s,
        )
        return BootstrapResult(estimate, iv, None)
    se = float(np.std(good, ddof=1))
    if method == "bca":
        jack = np.array(
            [
                statistic(*(arr[np.concatenate(groups[:g] + groups[g + 1 :])] for arr in arrays))
                for g in range(units)
            ]
        )
        jack = jack[np.isfinite(jack)]
        u = (jack.shape[0] - 1) * (jack.mean() - jack)
        s2 = float(np.sum(u * u))
        acc = float(np.sum(u**3) / (6.0 * s2**1.5)) if s2 > 0 else 0.0
        lim = bca_limits(good, estimate, acc, confidence)
        if isinstance(lim, str):
            iv = Interval.unavailable(lim, level=confidence, method=name, n=units, seed=s)
            return BootstrapResult(estimate, iv, se, "direct", good)
        lo, hi = lim
    else:
        lo, hi = percentile_limits(good, confidence)
    iv = Interval(
        lo=lo,
        hi=hi,
        level=confidence,
        method=name,
        n=units,
        seed=s,
        resamples=resamples,
        reason=note,
    )
    return BootstrapResult(estimate, iv, se, "direct", good)
