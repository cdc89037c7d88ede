"""Repeat runs (epochs): per-case means first, per-epoch rates, spread and flipping cases."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EpochStats:
    """How much a run moved between its repeats."""

    epochs: list[int]
    """Epoch numbers present."""
    rates: list[float]
    """Mean score over cases in each epoch (same order as ``epochs``)."""
    spread: float | None
    """max(rates) - min(rates); None with a single epoch."""
    flipping: list[str]
    """Case ids whose score differs between epochs."""
    within_variance: float | None
    """sigma^2: mean over cases of the within-case variance across epochs (ddof 1)."""


def case_means(
    case_ids: Sequence[str], scores: np.ndarray
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Average each case over its epochs: (unique ids, means, epoch counts)."""
    uniq, inv = np.unique(np.asarray(case_ids, dtype=object).astype(str), return_inverse=True)
    counts = np.bincount(inv, minlength=uniq.shape[0])
    sums = np.bincount(inv, weights=np.asarray(scores, dtype=np.float64), minlength=uniq.shape[0])
    return [str(u) for u in uniq], sums / counts, counts


def epoch_stats(case_ids: Sequence[str], epochs: Sequence[int], scores: np.ndarray) -> EpochStats:
    """Per-epoch rates, their spread, the flipping cases and the within-case variance."""
    ep = np.asarray(epochs, dtype=np.int64)
    sc = np.asarray(scores, dtype=np.float64)
    ids = np.asarray(case_ids, dtype=object).astype(str)
    labels = sorted({int(e) for e in ep.tolist()})
    rates = [float(sc[ep == e].mean()) for e in labels]
    spread = (max(rates) - min(rates)) if len(labels) > 1 else None
    uniq, inv = np.unique(ids, return_inverse=True)
    k = uniq.shape[0]
    mx = np.full(k, -np.inf)
    mn = np.full(k, np.inf)
    np.maximum.at(mx, inv, sc)
    np.minimum.at(mn, inv, sc)
    flipping = [str(u) for u in uniq[mx != mn]]
    counts = np.bincount(inv, minlength=k)
    within: float | None = None
    if len(labels) > 1:
        sums = np.bincount(inv, weights=sc, minlength=k)
        means = sums / counts
        ss = np.bincount(inv, weights=(sc - means[inv]) ** 2, minlength=k)
        ok = counts > 1
        within = float(np.mean(ss[ok] / (counts[ok] - 1))) if ok.any() else None
    return EpochStats(labels, rates, spread, flipping, within)


def weighted_mean(x: np.ndarray, w: np.ndarray) -> float:
    """sum(w x)/sum(w)."""
    return float(np.sum(w * x) / np.sum(w))


def effective_n(w: np.ndarray) -> float:
    """Kish's effective sample size (sum w)^2 / sum w^2."""
    return float(np.sum(w) ** 2 / np.sum(w * w))
