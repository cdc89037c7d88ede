"""Bootstrap intervals against the exact bootstrap, brute-force enumeration and scipy."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats as st

from nullband.stats import (
    _engine,
    bootstrap_ci,
    bootstrap_mean,
    exact_binary_bootstrap_pmf,
    exact_binary_percentile_interval,
    paired_binary_bootstrap,
)


def test_exact_pmf_matches_enumeration_of_every_resample() -> None:
    # n=5 cases: d = [-1, +1, +1, 0, 0]; enumerate all 5^5 resamples (independent oracle).
    d = np.array([-1, 1, 1, 0, 0])
    counts: dict[int, int] = {}
    for idx in itertools.product(range(5), repeat=5):
        k = int(d[list(idx)].sum())
        counts[k] = counts.get(k, 0) + 1
    ks, pmf = exact_binary_bootstrap_pmf(1, 2, 5)
    for k, p in zip(ks, pmf, strict=True):
        assert p == pytest.approx(counts.get(int(k), 0) / 5**5, abs=1e-12)


@pytest.mark.parametrize(("b", "c", "n"), [(49, 67, 840), (3, 5, 12), (1, 2, 12), (30, 10, 200)])
@pytest.mark.parametrize("seed", [0, 1])
def test_binary_percentile_within_one_step_of_exact_bootstrap(
    b: int, c: int, n: int, seed: int
) -> None:
    mc = paired_binary_bootstrap(b, c, n, resamples=10_000, seed=seed).interval
    ex = exact_binary_percentile_interval(b, c, n)
    assert mc.lo is not None
    assert mc.hi is not None
    assert ex.lo is not None
    assert ex.hi is not None
    # Tolerance from the issue: results lie on the lattice k/n; one step apart is allowed.
    assert abs(mc.lo - ex.lo) <= 1 / n + 1e-12
    assert abs(mc.hi - ex.hi) <= 1 / n + 1e-12
    assert mc.seed == seed
    assert mc.resamples == 10_000


def test_field_notes_interval_is_about_minus_0_4_to_plus_4_6_points() -> None:
    iv = paired_binary_bootstrap(49, 67, 840, seed=0).interval
    assert iv.lo is not None
    assert iv.hi is not None
    # The exact bootstrap gives [-3/840, 39/840] = [-0.36, +4.64] points, the post's
    # [-0.4, +4.6]; a 10,000-resample run may land one lattice step (0.12 points) away.
    ex = exact_binary_percentile_interval(49, 67, 840)
    assert ex.as_list() == [pytest.approx(-3 / 840), pytest.approx(39 / 840)]
    assert abs(iv.lo - -3 / 840) <= 1 / 840 + 1e-12
    assert abs(iv.hi - 39 / 840) <= 1 / 840 + 1e-12


def test_multinomial_path_has_the_distribution_of_index_resampling() -> None:
    # Same data through the grouped (multinomial) path and the direct index path.
    rng = np.random.default_rng(5)
    d = rng.choice([-1.0, 0.0, 1.0], size=300, p=[0.1, 0.8, 0.1])
    g = _engine._grouped(
        *np.unique(d, return_counts=True)[:1],
        None,
        np.unique(d, return_counts=True)[1],
        300,
        20_000,
        np.random.default_rng(1),
    )
    direct = _engine._direct(d, None, 20_000, np.random.default_rng(2))
    ks = st.ks_2samp(g.values, direct.values)
    assert ks.pvalue > 0.001  # same distribution; a wrong multinomial would fail at this n
    assert g.values.std() == pytest.approx(direct.values.std(), rel=0.05)


def test_binned_path_matches_direct_resampling() -> None:
    rng = np.random.default_rng(7)
    d = rng.random(5000) - rng.random(5000) + 0.01
    binned = _engine._binned(d, None, 20_000, np.random.default_rng(3))
    direct = _engine._direct(d, None, 20_000, np.random.default_rng(4))
    # Monte Carlo tolerance: 20k replicates, quantile SE ~ 1% of the replicate SD.
    sd = direct.values.std()
    for q in (0.025, 0.5, 0.975):
        assert np.quantile(binned.values, q) == pytest.approx(
            np.quantile(direct.values, q), abs=0.05 * sd
        )
    assert binned.note is not None
    assert "within-bin variance" in binned.note


def test_continuous_bootstrap_agrees_with_scipy(
    continuous_pair: tuple[np.ndarray, np.ndarray],
) -> None:
    a, b = continuous_pair
    d = b - a
    ours = bootstrap_mean(d, resamples=20_000, seed=0).interval
    ref = st.bootstrap((d,), np.mean, n_resamples=20_000, method="percentile", random_state=1)
    se = d.std(ddof=1) / np.sqrt(d.shape[0])
    assert ours.lo is not None
    assert ours.hi is not None
    # Two Monte Carlo runs of 20k: endpoints agree to a few percent of an SE.
    assert ours.lo == pytest.approx(ref.confidence_interval.low, abs=0.06 * se)
    assert ours.hi == pytest.approx(ref.confidence_interval.high, abs=0.06 * se)


def test_bca_matches_scipy_on_skewed_data() -> None:
    rng = np.random.default_rng(3)
    d = rng.exponential(1.0, 200)
    ours = bootstrap_mean(d, resamples=20_000, seed=0, method="bca").interval
    ref = st.bootstrap((d,), np.mean, n_resamples=20_000, method="BCa", random_state=2)
    se = d.std(ddof=1) / np.sqrt(200)
    assert ours.method.endswith("bca")
    assert ours.lo == pytest.approx(ref.confidence_interval.low, abs=0.08 * se)
    assert ours.hi == pytest.approx(ref.confidence_interval.high, abs=0.08 * se)


def test_bca_binary_is_lattice_aware_and_finite() -> None:
    iv = paired_binary_bootstrap(49, 67, 840, seed=0, method="bca").interval
    assert iv.lo is not None
    assert iv.hi is not None
    assert iv.lo < 18 / 840 < iv.hi
    # lattice: limits are multiples of 1/n
    assert iv.lo * 840 == pytest.approx(round(iv.lo * 840), abs=1e-9)


def test_cluster_bootstrap_widens_interval_for_correlated_cases() -> None:
    rng = np.random.default_rng(9)
    clusters = np.repeat(np.arange(40), 10)
    effect = rng.normal(0, 0.3, 40)[clusters]
    d = effect + rng.normal(0, 0.05, 400)
    naive = bootstrap_mean(d, seed=0).interval
    clustered = bootstrap_mean(d, clusters=clusters, seed=0).interval
    assert clustered.n == 40
    assert clustered.method.startswith("cluster-bootstrap")
    assert (clustered.hi - clustered.lo) > 2 * (naive.hi - naive.lo)


def test_generic_bootstrap_for_kappa_like_statistics() -> None:
    rng = np.random.default_rng(2)
    x = rng.integers(0, 2, 300)
    y = np.where(rng.random(300) < 0.8, x, 1 - x)

    def agreement(u: np.ndarray, v: np.ndarray) -> float:
        return float(np.mean(u == v))

    r = bootstrap_ci(agreement, [x, y], resamples=2000, seed=4)
    r2 = bootstrap_ci(agreement, [x, y], resamples=2000, seed=4)
    assert r.interval.as_list() == r2.interval.as_list()  # seeded: reproducible
    assert r.interval.seed == 4
    assert r.interval.lo < r.estimate < r.interval.hi
    se = np.sqrt(r.estimate * (1 - r.estimate) / 300)
    assert r.se == pytest.approx(se, rel=0.1)
    bca = bootstrap_ci(agreement, [x, y], resamples=2000, seed=4, method="bca")
    assert bca.interval.available


def test_degenerate_bootstrap_is_explicit() -> None:
    r = bootstrap_mean(np.zeros(50), seed=0)
    assert r.interval.as_list() == [0.0, 0.0]
    bca = bootstrap_mean(np.zeros(50), seed=0, method="bca").interval
    assert not np.isnan(bca.lo if bca.lo is not None else 0.0)
    empty = bootstrap_mean(np.array([]), seed=0).interval
    assert empty.lo is None
    assert empty.reason == "no cases"


@pytest.mark.parametrize(
    ("b", "c", "n"), [(49, 67, 840), (3, 5, 12), (0, 1, 840), (300, 0, 1000), (1, 1, 5000)]
)
def test_fft_law_matches_the_exact_mixture_formula(b: int, c: int, n: int) -> None:
    from nullband.stats._binary_fast import binary_pmf_fft

    ks, pmf = binary_pmf_fft(b, c, n)
    _, ref = exact_binary_bootstrap_pmf(b, c, n)
    full = np.zeros_like(ref)
    full[ks + n] = pmf
    # FFT rounding: the two computations agree to ~1e-13 in every cell.
    np.testing.assert_allclose(full, ref, atol=1e-12)


def test_histogram_replicates_have_the_law_of_index_resampling() -> None:
    rng = np.random.default_rng(6)
    d = rng.choice([-1.0, 0.0, 1.0], size=400, p=[0.07, 0.85, 0.08])
    b, c = int((d < 0).sum()), int((d > 0).sum())
    fast = paired_binary_bootstrap(b, c, 400, resamples=20_000, seed=1, keep_replicates=True)
    direct = _engine._direct(d, None, 20_000, np.random.default_rng(2))
    assert fast.replicates is not None
    assert st.ks_2samp(fast.replicates, direct.values).pvalue > 0.001
