"""Agreement statistics against independent oracles: scikit-learn's cohen_kappa_score,
statsmodels' cohens_kappa and mcnemar, and the krippendorff package."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.inter_rater import cohens_kappa as sm_kappa

from nullband.judges.agreement import (
    cohen_kappa,
    confusion_matrix,
    krippendorff_alpha,
    mcnemar,
    raw_agreement,
)


def _label_sets(seed: int) -> tuple[list[int], list[int]]:
    """Held-out Likert label pairs: a noisy rater against a reference."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 300))
    a = rng.integers(1, 6, n)
    b = np.clip(a + rng.integers(-2, 3, n) * (rng.random(n) < 0.5), 1, 5)
    return a.tolist(), b.tolist()


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("weights", ["none", "linear", "quadratic"])
def test_kappa_matches_sklearn(seed: int, weights: str) -> None:
    a, b = _label_sets(seed)
    ours = cohen_kappa(a, b, weights=weights)  # type: ignore[arg-type]
    ref = cohen_kappa_score(a, b, weights=None if weights == "none" else weights)
    assert ours == pytest.approx(ref, abs=1e-12)  # same formula, float rounding only


@pytest.mark.parametrize("weights", ["linear", "quadratic"])
def test_weighted_kappa_matches_statsmodels(weights: str) -> None:
    a, b = _label_sets(99)
    table = confusion_matrix(a, b, [1, 2, 3, 4, 5])
    ref = sm_kappa(table, wt=weights).kappa
    assert cohen_kappa(a, b, weights=weights) == pytest.approx(ref, abs=1e-12)  # type: ignore[arg-type]


def test_faireval_kappa_vectors() -> None:
    """reference/judges-and-tool-scoring.md 9.5: FairEval's 80 labels are 41/25/14; a
    constant 'chatgpt' predictor agrees 51.25% with kappa exactly 0."""
    human = ["chatgpt"] * 41 + ["vicuna"] * 25 + ["tie"] * 14
    constant = ["chatgpt"] * 80
    assert raw_agreement(constant, human) == pytest.approx(0.5125)
    assert cohen_kappa(constant, human) == pytest.approx(0.0, abs=1e-12)
    # ties relabelled as chatgpt: acc 0.825, kappa 0.681818...
    relabelled = ["chatgpt" if h == "tie" else h for h in human]
    assert raw_agreement(relabelled, human) == pytest.approx(0.825)
    assert cohen_kappa(relabelled, human) == pytest.approx(0.6818181818, abs=1e-9)
    assert cohen_kappa(relabelled, human) == pytest.approx(cohen_kappa_score(relabelled, human))


def test_kappa_is_undefined_not_zero_when_both_raters_use_one_label() -> None:
    assert cohen_kappa(["A"] * 10, ["A"] * 10) is None
    assert cohen_kappa([], []) is None


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
def test_alpha_matches_krippendorff_package(seed: int, level: str) -> None:
    rng = np.random.default_rng(seed)
    coders, units = int(rng.integers(2, 5)), int(rng.integers(10, 80))
    truth = rng.integers(1, 6, units)
    data = np.clip(truth + rng.integers(-1, 2, (coders, units)), 1, 5).astype(float)
    data[rng.random(data.shape) < 0.15] = np.nan  # missing ratings
    rel = [[None if np.isnan(x) else float(x) for x in row] for row in data]
    ours = krippendorff_alpha(rel, level=level)  # type: ignore[arg-type]
    ref = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
    assert ours == pytest.approx(ref, abs=1e-9)  # independent implementations; 1e-9 for rounding


def test_alpha_undefined_when_every_value_is_the_same() -> None:
    assert krippendorff_alpha([[1, 1, 1], [1, 1, None]]) is None


@pytest.mark.parametrize(("b", "c"), [(0, 0), (3, 9), (10, 10), (1, 12), (25, 40)])
def test_mcnemar_exact_matches_statsmodels(b: int, c: int) -> None:
    ours = mcnemar(b, c)
    if b + c == 0:
        # statsmodels' exact test is fine here, but the reference notes say p must be 1
        assert ours.p_exact == 1.0
        assert ours.p_mid == 1.0
        return
    ref = sm_mcnemar([[5, b], [c, 7]], exact=True).pvalue
    assert ours.p_exact == pytest.approx(ref, abs=1e-12)
    assert 0 <= ours.p_mid <= ours.p_exact
    if b == c:
        assert ours.p_mid == 1.0
