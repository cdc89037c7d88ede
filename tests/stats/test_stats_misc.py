"""Holm/BH, clustered SE, paired t/Wilcoxon and epochs against statsmodels/scipy."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats as st
from statsmodels.stats.multitest import multipletests

from nullband.stats import (
    benjamini_hochberg,
    clustered_se,
    epoch_stats,
    holm,
    paired_t,
    wilcoxon,
)


def test_holm_and_bh_match_statsmodels() -> None:
    rng = np.random.default_rng(40)
    p = np.r_[rng.uniform(0, 1, 38), 0.0004, 0.03]
    ours_h = holm(list(p))
    ours_b = benjamini_hochberg(list(p))
    ref_h = multipletests(p, method="holm")[1]
    ref_b = multipletests(p, method="fdr_bh")[1]
    # 1e-9: the tolerance for adjusted p-values.
    np.testing.assert_allclose(np.array(ours_h, dtype=float), ref_h, atol=1e-9)
    np.testing.assert_allclose(np.array(ours_b, dtype=float), ref_b, atol=1e-9)


def test_adjustments_skip_missing_values() -> None:
    out = holm([0.01, None, 0.04])
    assert out[1] is None
    assert out[0] == pytest.approx(0.02)
    assert out[2] == pytest.approx(0.04)


def test_clustered_se_matches_statsmodels_cr1() -> None:
    rng = np.random.default_rng(5)
    groups = np.repeat(np.arange(30), rng.integers(1, 8, 30))
    x = rng.normal(0, 1, 30)[groups] + rng.normal(0, 1, groups.shape[0])
    fit = sm.OLS(x, np.ones_like(x)).fit(cov_type="cluster", cov_kwds={"groups": groups})
    ours = clustered_se(x, groups)
    # statsmodels applies CR1 with the small-sample (n-1)/(n-k) factor, 1 here for k=1? it is
    # (n-1)/(n-1) = 1, so only C/(C-1) remains: the same number to 1e-9.
    assert ours.se_cr1 == pytest.approx(float(fit.bse[0]), rel=1e-9)
    assert ours.clusters == 30
    assert ours.design_effect is not None
    assert ours.design_effect > 1


def test_paired_t_matches_scipy(continuous_pair: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = continuous_pair
    ours = paired_t(b - a)
    ref = st.ttest_rel(b, a)
    assert ours.p_value == pytest.approx(ref.pvalue, abs=1e-12)
    assert wilcoxon(b - a).p_value == pytest.approx(st.wilcoxon(b - a).pvalue, abs=1e-12)


def test_degenerate_tests_never_return_nan() -> None:
    assert paired_t(np.zeros(10)).p_value == 1.0
    const = paired_t(np.full(10, 0.1))
    assert const.p_value is None
    assert const.reason is not None
    assert wilcoxon(np.zeros(10)).p_value == 1.0
    assert paired_t(np.array([0.3])).p_value is None


def test_epoch_stats_lists_flipping_cases() -> None:
    ids = ["a", "b", "c", "d"] * 3
    epochs = [0] * 4 + [1] * 4 + [2] * 4
    scores = np.array([1, 1, 0, 0, 1, 0, 0, 0, 1, 1, 1, 0], dtype=float)
    es = epoch_stats(ids, epochs, scores)
    assert es.rates == [0.5, 0.25, 0.75]
    assert es.spread == pytest.approx(0.5)
    assert es.flipping == ["b", "c"]
    assert es.within_variance == pytest.approx((1 / 3 + 1 / 3) / 4)
