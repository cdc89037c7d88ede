"""Paired tests for continuous scores: paired t and Wilcoxon signed-rank.

Degenerate inputs give an explicit answer: all differences zero -> p = 1; a constant
non-zero difference -> the t-test cannot be computed (zero variance), said in words.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats as _st


@dataclass(frozen=True)
class TestResult:
    """A p-value with its test name, or the reason there is none."""

    test: str
    """Test name, e.g. 'paired-t', 'wilcoxon'."""
    p_value: float | None
    """Two-sided p-value; None when it cannot be computed."""
    statistic: float | None = None
    """The test statistic."""
    df: float | None = None
    """Degrees of freedom, when the test has them."""
    reason: str | None = None
    """Why p_value is None (or a note)."""

    __test__ = False  # not a pytest class


def paired_t(d: np.ndarray) -> TestResult:
    """Paired t-test on differences d (two-sided)."""
    x = np.asarray(d, dtype=np.float64)
    n = x.shape[0]
    if n < 2:
        return TestResult("paired-t", None, reason=f"needs at least 2 cases, got {n}")
    mean = float(x.mean())
    sd = float(x.std(ddof=1))
    if sd == 0.0:
        if mean == 0.0:
            return TestResult("paired-t", 1.0, 0.0, n - 1, "all differences are zero")
        return TestResult(
            "paired-t", None, reason="every case has the same non-zero difference (zero variance)"
        )
    t = mean / (sd / math.sqrt(n))
    return TestResult("paired-t", float(2 * _st.t.sf(abs(t), n - 1)), t, n - 1)


def one_sided_t(delta: float, se: float | None, df: float | None, margin: float = 0.0) -> float:
    """One-sided p that the true delta is below -margin (H0: delta >= -margin).

    A zero SE gives 0 or 1 by the sign of delta + margin.
    """
    shift = delta + margin
    if se is None or se <= 0 or not math.isfinite(se):
        return 0.0 if shift < 0 else 1.0
    z = shift / se
    if df is None or df <= 0:
        return float(_st.norm.cdf(z))
    return float(_st.t.cdf(z, df))


def wilcoxon(d: np.ndarray) -> TestResult:
    """Wilcoxon signed-rank test (zeros dropped, scipy's exact/normal choice)."""
    x = np.asarray(d, dtype=np.float64)
    nz = x[x != 0]
    if nz.shape[0] == 0:
        return TestResult("wilcoxon", 1.0, 0.0, reason="all differences are zero")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = _st.wilcoxon(nz)
    p = float(res.pvalue)
    if not math.isfinite(p):
        return TestResult("wilcoxon", None, reason="scipy returned no p-value")
    return TestResult("wilcoxon", min(1.0, p), float(res.statistic))
