"""Intervals for one pass rate: Wilson (default) and Clopper-Pearson (exact coverage)."""

from __future__ import annotations

import math
from statistics import NormalDist

from scipy import stats as _st

from nullband.stats._result import Interval, check_level


def _z(confidence: float) -> float:
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def wilson(k: float, n: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval for ``k`` successes out of ``n``.

    ``k`` may be fractional (a sum of per-case means over epochs).

    Example:
        >>> iv = wilson(599, 840)
        >>> round(iv.lo, 4), round(iv.hi, 4)
        (0.6816, 0.7427)
    """
    check_level(confidence)
    if n <= 0:
        return Interval.unavailable("no cases", level=confidence, method="wilson", n=0)
    z = _z(confidence)
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(max(p * (1 - p), 0.0) / n + z * z / (4 * n * n))
    return Interval(
        lo=max(0.0, centre - half),
        hi=min(1.0, centre + half),
        level=confidence,
        method="wilson",
        n=n,
    )


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> Interval:
    """Clopper-Pearson ("exact") interval: guaranteed coverage, wider than Wilson."""
    check_level(confidence)
    if n <= 0:
        return Interval.unavailable("no cases", level=confidence, method="clopper-pearson", n=0)
    alpha = 1.0 - confidence
    lo = 0.0 if k <= 0 else float(_st.beta.ppf(alpha / 2, k, n - k + 1))
    hi = 1.0 if k >= n else float(_st.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return Interval(lo=lo, hi=hi, level=confidence, method="clopper-pearson", n=n)
