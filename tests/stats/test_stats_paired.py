"""paired_summary: the right procedure for each kind of data, explicit degenerate states."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from nullband.stats import paired_binary_bootstrap, paired_summary


def _no_nan(obj: object) -> None:
    if isinstance(obj, float):
        assert math.isfinite(obj)
    elif isinstance(obj, dict):
        for v in obj.values():
            _no_nan(v)
    elif isinstance(obj, list):
        for v in obj:
            _no_nan(v)


def test_field_notes_summary(field_notes_pair: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = field_notes_pair
    s = paired_summary(a, b, seed=0)
    assert s.kind == "binary"
    assert s.n == 840
    assert s.discordant is not None
    assert (s.discordant.baseline_only, s.discordant.candidate_only) == (49, 67)
    assert round(s.baseline_mean or 0, 4) == 0.7131
    assert round(s.candidate_mean or 0, 4) == 0.7345
    assert s.test == "mcnemar-exact"
    assert round(s.p_value or 0, 3) == 0.114
    assert round(s.p_mid or 0, 4) == 0.0957
    assert round(s.mde or 0, 4) == 0.0359
    assert s.delta_ci is not None
    assert s.delta_ci[0] < 0 < s.delta_ci[1]
    _no_nan(s.model_dump())


def test_tiny_and_degenerate_cases_are_explicit(cells: Any) -> None:
    paired_cells = cells
    a, b = paired_cells(5, 2, 3, 2)  # n = 12
    s = paired_summary(a, b, seed=1)
    assert s.n == 12
    _no_nan(s.model_dump())
    same = paired_summary(np.ones(30), np.ones(30), seed=0)
    assert same.p_value == 1.0
    assert same.mde is None
    assert "mde" in same.unavailable
    assert same.ci_method == "newcombe"
    _no_nan(same.model_dump())
    none = paired_summary(np.array([]), np.array([]))
    assert none.delta is None
    assert none.unavailable["delta"] == "no paired cases"


def test_one_empty_discordant_cell_uses_newcombe(cells: Any) -> None:
    paired_cells = cells
    # 4 vs 0 discordant: McNemar exact p = 0.125, yet the bootstrap's lower limit is 1/56 > 0.
    a, b = paired_cells(42, 0, 4, 10)
    boot = paired_binary_bootstrap(0, 4, 56, seed=0).interval
    assert boot.lo is not None
    assert boot.lo > 0
    s = paired_summary(a, b)
    assert s.p_value == pytest.approx(0.125)
    assert s.ci_method == "newcombe"
    assert s.delta_ci is not None
    assert s.delta_ci[0] < 0 < s.delta_ci[1]  # Newcombe agrees with the test


def test_continuous_summary(continuous_pair: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = continuous_pair
    s = paired_summary(a, b, seed=0)
    assert s.kind == "continuous"
    assert s.discordant is None
    assert s.test == "paired-t"
    assert "wilcoxon" in s.tests
    assert s.mde is not None
    assert s.mde_method == "miller"
    assert s.delta == pytest.approx(float(np.mean(b - a)))


def test_clustered_with_five_epochs_uses_cluster_methods() -> None:
    rng = np.random.default_rng(55)
    n_prompts, per = 60, 4
    clusters = np.repeat(np.arange(n_prompts), per)
    diff = rng.normal(0, 1, n_prompts)[clusters]
    # per-case means over 5 epochs: multiples of 1/5
    pa = 1 / (1 + np.exp(-(diff + rng.normal(0, 0.5, clusters.shape[0]))))
    a = rng.binomial(5, pa) / 5
    lift = rng.normal(0.03, 0.2, n_prompts)[clusters]  # the change helps some prompts' families
    b = rng.binomial(5, np.clip(pa + lift, 0, 1)) / 5
    s = paired_summary(a, b, clusters=clusters, seed=0)
    assert s.n_clusters == n_prompts
    assert s.test == "cluster-robust-t"
    assert s.ci_method.startswith("cluster-bootstrap")
    naive = paired_summary(a, b, seed=0)
    assert s.se is not None
    assert naive.se is not None
    assert s.se > naive.se


def test_weighted_summary_applies_weights(cells: Any) -> None:
    paired_cells = cells
    a, b = paired_cells(80, 5, 5, 10, seed=2)
    w = np.ones(100)
    w[:10] = 3.0
    s = paired_summary(a, b, weights=w)
    assert s.weighted
    assert s.delta == pytest.approx(float(np.sum(w * (b - a)) / w.sum()))
    assert s.test == "weighted-z"


def test_weighted_without_discordance_is_not_a_point(cells: Any) -> None:
    a, b = cells(80, 0, 0, 20, seed=3)
    w = np.where(np.arange(100) < 10, 3.0, 1.0)
    s = paired_summary(a, b, weights=w)
    assert s.delta_ci is not None
    assert s.delta_ci[0] < 0 < s.delta_ci[1]
    assert any("Newcombe" in note for note in s.notes)


def test_weighted_continuous_outside_unit_has_no_rate_interval() -> None:
    rng = np.random.default_rng(2)
    a = rng.normal(100, 10, 200)
    b = a + rng.normal(1, 2, 200)
    s = paired_summary(a, b, weights=np.r_[np.full(100, 2.0), np.ones(100)])
    assert s.baseline_ci is None
    assert "baseline_ci" in s.unavailable
    assert s.delta_ci is not None
