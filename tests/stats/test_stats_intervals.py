"""Wilson, Clopper-Pearson, McNemar and Newcombe against statsmodels/scipy/enumeration."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.proportion import proportion_confint

from nullband.stats import clopper_pearson, mcnemar, newcombe_paired, wilson


@pytest.mark.parametrize(("k", "n"), [(599, 840), (617, 840), (0, 12), (12, 12), (7, 12), (1, 1)])
def test_wilson_and_clopper_pearson_match_statsmodels(k: int, n: int) -> None:
    for conf in (0.9, 0.95, 0.99):
        lo, hi = proportion_confint(k, n, alpha=1 - conf, method="wilson")
        iv = wilson(k, n, conf)
        # 1e-9: the same closed form, only float rounding differs.
        assert iv.lo == pytest.approx(lo, abs=1e-9)
        assert iv.hi == pytest.approx(hi, abs=1e-9)
        lo, hi = proportion_confint(k, n, alpha=1 - conf, method="beta")
        cp = clopper_pearson(k, n, conf)
        assert cp.lo == pytest.approx(lo, abs=1e-9)
        assert cp.hi == pytest.approx(hi, abs=1e-9)
        assert cp.method == "clopper-pearson"
        assert iv.n == n
        assert iv.level == conf


def test_wilson_of_no_cases_is_unavailable_with_a_reason() -> None:
    iv = wilson(0, 0)
    assert iv.lo is None
    assert iv.hi is None
    assert iv.reason == "no cases"


def _exact_p(b: int, c: int) -> tuple[float, float]:
    """Exact and mid-p by enumerating the binomial with fractions (independent oracle)."""
    m = b + c
    if m == 0:
        return 1.0, 1.0
    lo = min(b, c)
    pmf = [Fraction(math.comb(m, i), 2**m) for i in range(m + 1)]
    cdf = sum(pmf[: lo + 1], Fraction(0))
    return float(min(Fraction(1), 2 * cdf)), float(min(Fraction(1), 2 * cdf - pmf[lo]))


@pytest.mark.parametrize(("b", "c"), [(49, 67), (0, 0), (0, 5), (3, 3), (1, 9), (120, 80), (7, 0)])
def test_mcnemar_exact_and_mid_p(b: int, c: int) -> None:
    r = mcnemar(b, c)
    p_exact, p_mid = _exact_p(b, c)
    assert r.p_exact == pytest.approx(p_exact, abs=1e-9)  # tolerance from the issue
    assert r.p_mid == pytest.approx(p_mid, abs=1e-9)
    if b + c:
        sm = sm_mcnemar([[10, b], [c, 10]], exact=True)
        assert r.p_exact == pytest.approx(sm.pvalue, abs=1e-9)
        sm_cc = sm_mcnemar([[10, b], [c, 10]], exact=False, correction=True)
        if b != c:
            assert r.p_chi2_cc == pytest.approx(sm_cc.pvalue, abs=1e-9)
        else:
            # statsmodels corrects even when b == c ((0 - 1)^2 / m > 0); like R we do not.
            assert r.p_chi2_cc == 1.0
    for v in (r.p_exact, r.p_mid):
        assert not math.isnan(v)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_mcnemar_without_discordant_pairs_is_p1_and_chi2_undefined() -> None:
    r = mcnemar(0, 0)
    assert r.p_exact == 1.0
    assert r.p_mid == 1.0
    assert r.chi2 is None
    assert r.p_chi2 is None
    assert r.reason is not None
    # statsmodels gets this wrong (p = 0 with an infinite statistic): we do not follow it.
    assert sm_mcnemar([[5, 0], [0, 5]], exact=False).pvalue == 0.0


def test_field_notes_mcnemar_values() -> None:
    r = mcnemar(49, 67)
    assert round(r.p_exact, 3) == 0.114
    assert round(r.p_mid, 4) == 0.0957
    assert r.p_one_sided("candidate_better") == pytest.approx(r.p_exact / 2, abs=1e-12)


def test_newcombe_contains_estimate_and_mirrors() -> None:
    iv = newcombe_paired(36, 2, 12, 0)
    assert iv.lo is not None
    assert iv.hi is not None
    assert iv.lo < 0.2 < iv.hi
    mirrored = newcombe_paired(36, 12, 2, 0)
    assert mirrored.lo == pytest.approx(-iv.hi, abs=1e-12)
    assert mirrored.hi == pytest.approx(-iv.lo, abs=1e-12)


def test_newcombe_without_discordant_pairs_is_not_a_point() -> None:
    # 200 LoRA prompts, identical outputs: the bootstrap says [0, 0]; Newcombe stays honest.
    iv = newcombe_paired(180, 0, 0, 20)
    assert iv.lo is not None
    assert iv.hi is not None
    assert iv.lo < -0.001
    assert iv.hi > 0.001
    assert not np.isnan(iv.lo)


def test_newcombe_follows_the_published_formula_by_hand() -> None:
    # Hand evaluation of Newcombe (1998) method 10 for a=8, b=5, c=1, d=6 (n=20).
    a, b, c, d = 8, 5, 1, 6
    n = 20
    p1, p2 = (a + b) / n, (a + c) / n
    w1, w2 = wilson(a + b, n), wilson(a + c, n)
    assert w1.lo is not None
    assert w1.hi is not None
    assert w2.lo is not None
    assert w2.hi is not None
    phi = (a * d - b * c - n / 2) / math.sqrt((a + b) * (c + d) * (a + c) * (b + d))
    lo = (p2 - p1) - math.sqrt(
        (p2 - w2.lo) ** 2 + (w1.hi - p1) ** 2 - 2 * phi * (p2 - w2.lo) * (w1.hi - p1)
    )
    hi = (p2 - p1) + math.sqrt(
        (w2.hi - p2) ** 2 + (p1 - w1.lo) ** 2 - 2 * phi * (w2.hi - p2) * (p1 - w1.lo)
    )
    iv = newcombe_paired(a, b, c, d)
    assert iv.lo == pytest.approx(lo, abs=1e-12)
    assert iv.hi == pytest.approx(hi, abs=1e-12)
