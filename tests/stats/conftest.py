"""Held-out-style datasets for the statistics tests, generated with fixed seeds."""

from __future__ import annotations

import numpy as np
import pytest


def paired_cells(n11: int, n10: int, n01: int, n00: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Baseline and candidate 0/1 vectors with the given cell counts, shuffled."""
    a = np.r_[np.ones(n11), np.ones(n10), np.zeros(n01), np.zeros(n00)]
    b = np.r_[np.ones(n11), np.zeros(n10), np.ones(n01), np.zeros(n00)]
    order = np.random.default_rng(seed).permutation(a.shape[0])
    return a[order], b[order]


@pytest.fixture
def cells() -> object:
    """The paired_cells helper, as a fixture (test modules must not import conftest)."""
    return paired_cells


@pytest.fixture
def field_notes_pair() -> tuple[np.ndarray, ...]:
    """The field notes' 840 prompts: 599 vs 617 passes, 49 vs 67 discordant."""
    return paired_cells(550, 49, 67, 174, seed=11)


@pytest.fixture
def continuous_pair() -> tuple[np.ndarray, np.ndarray]:
    """Argument-F1-like scores in [0, 1], correlated, the candidate ~0.02 better."""
    rng = np.random.default_rng(20260602)
    x = rng.beta(4, 2, size=500)
    a = np.clip(x + rng.normal(0, 0.08, 500), 0, 1)
    b = np.clip(x + 0.02 + rng.normal(0, 0.08, 500), 0, 1)
    return a, b
