"""Empirical quantiles with distribution-free (order-statistic) confidence intervals.

The point estimate is numpy's ``method="linear"`` quantile (the definition vLLM's
benchmark uses). The interval is the classical order-statistic interval: with ``n``
sorted samples ``x(1) <= ... <= x(n)``, the number of samples below the true
``q``-quantile is Binomial(n, q), so ``P(x(l) <= xi_q <= x(u)) = P(l <= B <= u - 1)``.
We pick the equal-tailed ranks ``l`` and ``u`` whose exact coverage is at least the
level, and report that exact coverage. When the sample is too small to bound a side
(``l < 1`` or ``u > n``), that bound is ``None`` and the status says so; no figure is
silently made up.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, Field
from scipy.stats import binom

QuantileStatus = Literal["ok", "lower_unbounded", "upper_unbounded", "unbounded", "no_data"]

DEFAULT_QUANTILES: tuple[float, ...] = (0.5, 0.9, 0.99, 0.999)


class QuantileEstimate(BaseModel):
    """One quantile of a sample with its order-statistic interval."""

    q: float = Field(description="The quantile level, e.g. 0.99 for p99.")
    n: int = Field(description="Number of samples.")
    value: float | None = Field(
        description="Point estimate (numpy linear interpolation); null when there is no data."
    )
    lower: float | None = Field(
        description="Lower bound x(l); null when the sample is too small to bound it."
    )
    upper: float | None = Field(
        description="Upper bound x(u); null when the sample is too small to bound it."
    )
    rank_lower: int | None = Field(description="1-based rank l of the lower bound.")
    rank_upper: int | None = Field(description="1-based rank u of the upper bound.")
    level: float = Field(description="Requested confidence level, e.g. 0.95.")
    coverage: float | None = Field(
        description="Exact coverage P(l <= B <= u-1) of the interval, B ~ Binomial(n, q)."
    )
    method: Literal["order-statistic (binomial)"] = Field(
        default="order-statistic (binomial)", description="How the interval was computed."
    )
    status: QuantileStatus = Field(description="'ok', which side is unbounded, or 'no_data'.")

    @property
    def label(self) -> str:
        """'p99', 'p99.9', ..."""
        return quantile_label(self.q)


def quantile_label(q: float) -> str:
    """Name of a quantile level: 0.5 -> 'p50', 0.999 -> 'p99.9'."""
    pct = round(q * 100, 6)
    return "p" + (f"{pct:.0f}" if pct == int(pct) else f"{pct:g}")


def order_stat_ranks(n: int, q: float, level: float = 0.95) -> tuple[int, int, float]:
    """Equal-tailed 1-based ranks ``(l, u)`` and their exact coverage.

    ``l`` may be < 1 and ``u`` may be > n: the sample cannot bound that side. Coverage is
    then computed as if the missing order statistics were -inf / +inf.

    Raises:
        ValueError: ``n < 1`` or ``q`` or ``level`` not in (0, 1).
    """
    if n < 1:
        raise ValueError(f"need at least one sample, got n={n}")
    if not (0.0 < q < 1.0 and 0.0 < level < 1.0):
        raise ValueError(f"q and level must be in (0, 1); got q={q}, level={level}")
    alpha = 1.0 - level
    # smallest k with P(B <= k) >= alpha/2, so P(B <= l-1) < alpha/2 for l = k
    lo = int(binom.ppf(alpha / 2, n, q))
    # smallest m with P(B <= m) >= 1 - alpha/2; u = m + 1 gives P(B >= u) <= alpha/2
    up = int(binom.ppf(1 - alpha / 2, n, q)) + 1
    cov = float(binom.cdf(up - 1, n, q) - binom.cdf(lo - 1, n, q))
    return lo, up, cov


def quantile_ci(
    samples: Sequence[float] | NDArray[np.float64], q: float, level: float = 0.95
) -> QuantileEstimate:
    """The ``q``-quantile of ``samples`` with its order-statistic interval.

    Example:
        >>> est = quantile_ci(list(range(1, 1001)), 0.5)
        >>> est.lower <= est.value <= est.upper
        True
    """
    x = np.sort(np.asarray(samples, dtype=np.float64))
    n = int(x.size)
    if n == 0:
        return QuantileEstimate(
            q=q,
            n=0,
            value=None,
            lower=None,
            upper=None,
            rank_lower=None,
            rank_upper=None,
            level=level,
            coverage=None,
            status="no_data",
        )
    lo, up, cov = order_stat_ranks(n, q, level)
    lower = float(x[lo - 1]) if lo >= 1 else None
    upper = float(x[up - 1]) if up <= n else None
    if lower is None and upper is None:
        status: QuantileStatus = "unbounded"
    elif lower is None:
        status = "lower_unbounded"
    elif upper is None:
        status = "upper_unbounded"
    else:
        status = "ok"
    return QuantileEstimate(
        q=q,
        n=n,
        value=float(np.quantile(x, q, method="linear")),
        lower=lower,
        upper=upper,
        rank_lower=lo if lo >= 1 else None,
        rank_upper=up if up <= n else None,
        level=level,
        coverage=cov,
        status=status,
    )


class Distribution(BaseModel):
    """Summary of one latency sample: n, mean, max and quantiles with intervals (in ms)."""

    n: int = Field(description="Number of samples.")
    mean: float | None = Field(description="Arithmetic mean; null without data.")
    max: float | None = Field(description="Largest sample; null without data.")
    quantiles: dict[str, QuantileEstimate] = Field(
        description="Quantiles keyed by label ('p50', 'p99', 'p99.9')."
    )

    def value(self, label: str) -> float | None:
        """Point estimate of a quantile by label, or None."""
        est = self.quantiles.get(label)
        return None if est is None else est.value


def describe(
    samples: Sequence[float] | NDArray[np.float64],
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    level: float = 0.95,
) -> Distribution:
    """n, mean, max and the quantiles (with intervals) of a sample."""
    x = np.asarray(samples, dtype=np.float64)
    if x.size == 0:
        return Distribution(
            n=0,
            mean=None,
            max=None,
            quantiles={quantile_label(q): quantile_ci(x, q, level) for q in quantiles},
        )
    return Distribution(
        n=int(x.size),
        mean=float(x.mean()),
        max=float(x.max()),
        quantiles={quantile_label(q): quantile_ci(x, q, level) for q in quantiles},
    )
