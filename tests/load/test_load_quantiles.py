"""Order-statistic quantile intervals, checked against exact binomial enumeration."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from scipy.stats import binom

from nullband.load.quantiles import describe, order_stat_ranks, quantile_ci, quantile_label


def exact_cdf(k: int, n: int, q: Fraction) -> Fraction:
    """P(B <= k) for B ~ Binomial(n, q), by exact enumeration with rationals."""
    if k < 0:
        return Fraction(0)
    return sum(
        (Fraction(math.comb(n, i)) * q**i * (1 - q) ** (n - i) for i in range(min(k, n) + 1)),
        Fraction(0),
    )


@pytest.mark.parametrize(
    ("n", "q"), [(20, 0.5), (50, 0.9), (100, 0.5), (200, 0.99), (400, 0.9), (120, 0.25)]
)
def test_ranks_cover_at_least_the_level_and_are_tight(n: int, q: float) -> None:
    lo, up, cov = order_stat_ranks(n, q, 0.95)
    qf = Fraction(q).limit_denominator(10_000)
    # coverage of [x(l), x(u)] is P(l <= B <= u-1), enumerated exactly
    exact = exact_cdf(up - 1, n, qf) - exact_cdf(lo - 1, n, qf)
    assert abs(float(exact) - cov) < 1e-9  # scipy's cdf agrees with exact rationals
    assert exact >= Fraction(95, 100)
    # each tail holds at most alpha/2 (equal-tailed) ...
    assert exact_cdf(lo - 1, n, qf) <= Fraction(25, 1000)
    assert 1 - exact_cdf(up - 1, n, qf) <= Fraction(25, 1000)
    # ... and is as tight as that allows: moving either rank inwards breaks its tail bound
    assert exact_cdf(lo, n, qf) > Fraction(25, 1000)
    assert 1 - exact_cdf(up - 2, n, qf) > Fraction(25, 1000)


def test_interval_bounds_are_the_order_statistics() -> None:
    rng = np.random.default_rng(7)
    x = rng.lognormal(3.0, 0.5, size=1000)
    est = quantile_ci(x, 0.99)
    xs = np.sort(x)
    assert est.status == "ok"
    assert est.rank_lower is not None
    assert est.rank_upper is not None
    assert est.lower == xs[est.rank_lower - 1]
    assert est.upper == xs[est.rank_upper - 1]
    assert est.value == pytest.approx(np.quantile(x, 0.99))
    assert est.lower <= est.value <= est.upper
    # ranks centred near n*q with spread ~ sqrt(n q (1-q)) = 3.1
    assert 980 <= est.rank_lower <= 987
    assert 993 <= est.rank_upper <= 1000


def test_coverage_by_simulation_matches_the_claim() -> None:
    # True p90 of Exp(1) is ln(10). With n=60, the interval should cover it in >= 95%
    # of samples (it is conservative); 2000 draws give a standard error of ~0.5 point.
    rng = np.random.default_rng(11)
    truth = math.log(10)
    hits = 0
    for _ in range(2000):
        est = quantile_ci(rng.exponential(size=60), 0.9)
        assert est.lower is not None
        assert est.upper is not None
        hits += est.lower <= truth <= est.upper
    _, _, cov = order_stat_ranks(60, 0.9)
    assert hits / 2000 >= 0.95 - 0.015  # three standard errors below the level
    assert abs(hits / 2000 - cov) < 0.02


def test_small_samples_say_the_tail_is_unbounded() -> None:
    est = quantile_ci(list(range(100)), 0.99)
    # B ~ Bin(100, .99): P(B = 100) = .366 > .025, so no sample bounds p99 from above
    assert binom.sf(99, 100, 0.99) > 0.025
    assert est.status == "upper_unbounded"
    assert est.upper is None
    assert est.lower is not None
    assert est.value is not None


def test_no_data_is_explicit() -> None:
    est = quantile_ci([], 0.5)
    assert est.status == "no_data"
    assert est.value is None
    assert est.coverage is None
    d = describe([])
    assert d.n == 0
    assert d.mean is None
    assert d.quantiles["p99.9"].status == "no_data"


def test_labels() -> None:
    assert quantile_label(0.5) == "p50"
    assert quantile_label(0.99) == "p99"
    assert quantile_label(0.999) == "p99.9"
