"""Cluster-robust standard errors of a mean (cases that are not independent)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ClusteredSE:
    """Naive and cluster-robust standard errors of a mean."""

    se_naive: float
    """sd(x, ddof=1)/sqrt(n): the CLT standard error that assumes independent cases."""
    se_cr0: float
    """sqrt(sum_c (sum_{i in c} u_i)^2) / n."""
    se_cr1: float
    """CR0 * sqrt(C/(C-1)): what statsmodels' OLS cluster covariance gives."""
    n: int
    """Cases."""
    clusters: int
    """Distinct clusters C."""

    @property
    def design_effect(self) -> float | None:
        """(SE_CR1 / SE_naive)^2, or None when the naive SE is 0."""
        if self.se_naive <= 0:
            return None
        return (self.se_cr1 / self.se_naive) ** 2


def clustered_se(x: np.ndarray, clusters: np.ndarray) -> ClusteredSE:
    """Cluster-robust SE of mean(x) (CR0 and CR1), with the naive SE next to it.

    Args:
        x: one value per case (a score, or a paired difference d_i).
        clusters: a label per case; a case with a unique label is its own cluster.
    """
    v = np.asarray(x, dtype=np.float64)
    n = v.shape[0]
    _, inv = np.unique(np.asarray(clusters), return_inverse=True)
    c = int(inv.max()) + 1 if n else 0
    naive = float(v.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0
    if n == 0:
        return ClusteredSE(0.0, 0.0, 0.0, 0, 0)
    u = v - v.mean()
    sums = np.bincount(inv, weights=u, minlength=c)
    cr0 = float(math.sqrt(float(np.sum(sums * sums))) / n)
    cr1 = cr0 * math.sqrt(c / (c - 1)) if c > 1 else 0.0
    return ClusteredSE(naive, cr0, cr1, n, c)
