"""Agreement statistics between raters: Cohen's kappa (plain and weighted), Krippendorff's
alpha (nominal, ordinal, interval), raw agreement and McNemar's test for a systematic bias.

Formulas follow reference/statistics.md section (h). Each function returns ``None`` when
the statistic is undefined on the data given (for instance kappa when both raters use a
single category, so chance agreement is 1); callers turn that into an explicit
"undefined" state, never a 0 or a NaN.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats as sps

KappaWeights = Literal["none", "linear", "quadratic"]
AlphaLevel = Literal["nominal", "ordinal", "interval"]


def _categories(a: Sequence[Hashable], b: Sequence[Hashable]) -> list[Hashable]:
    values = set(a) | set(b)
    try:
        return sorted(values)  # type: ignore[type-var]
    except TypeError:
        return sorted(values, key=repr)


def confusion_matrix(
    a: Sequence[Hashable], b: Sequence[Hashable], categories: Sequence[Hashable]
) -> np.ndarray:
    """Counts ``m[i, j]`` of items rated ``categories[i]`` by ``a`` and ``categories[j]`` by ``b``."""
    index = {c: i for i, c in enumerate(categories)}
    m = np.zeros((len(categories), len(categories)), dtype=float)
    for x, y in zip(a, b, strict=True):
        m[index[x], index[y]] += 1
    return m


def raw_agreement(a: Sequence[Hashable], b: Sequence[Hashable]) -> float | None:
    """Share of items on which the two raters give the same label (None when empty)."""
    if len(a) != len(b):
        raise ValueError(f"rater lists differ in length: {len(a)} vs {len(b)}")
    if not a:
        return None
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a)


def cohen_kappa(
    a: Sequence[Hashable],
    b: Sequence[Hashable],
    *,
    weights: KappaWeights = "none",
    categories: Sequence[Hashable] | None = None,
) -> float | None:
    """Cohen's kappa between two raters over the same items.

    Weighted kappa uses the distance between category *positions* in ``categories``
    (sorted labels by default), ``|i - j|`` (linear) or ``(i - j)^2`` (quadratic), as
    scikit-learn's ``cohen_kappa_score`` does.

    Returns:
        kappa, or None when it is undefined (no items, or chance disagreement is 0).

    Example:
        >>> round(cohen_kappa([1, 2, 3, 3], [1, 2, 3, 2]), 3)
        0.636
    """
    if len(a) != len(b):
        raise ValueError(f"rater lists differ in length: {len(a)} vs {len(b)}")
    if not a:
        return None
    cats = list(categories) if categories is not None else _categories(a, b)
    index = {c: i for i, c in enumerate(cats)}
    return kappa_from_codes(
        np.fromiter((index[x] for x in a), dtype=np.intp, count=len(a)),
        np.fromiter((index[y] for y in b), dtype=np.intp, count=len(b)),
        len(cats),
        weights=weights,
    )


def kappa_from_codes(
    a: np.ndarray, b: np.ndarray, k: int, *, weights: KappaWeights = "none"
) -> float | None:
    """Cohen's kappa from integer category codes ``0..k-1`` (fast path for bootstraps)."""
    if a.size == 0:
        return None
    m = np.bincount(a * k + b, minlength=k * k).reshape(k, k).astype(float)
    n = m.sum()
    idx = np.arange(k)
    if weights == "none":
        w = (idx[:, None] != idx[None, :]).astype(float)
    elif weights == "linear":
        w = np.abs(idx[:, None] - idx[None, :]).astype(float)
    else:
        w = ((idx[:, None] - idx[None, :]) ** 2).astype(float)
    expected = np.outer(m.sum(axis=1), m.sum(axis=0)) / n
    denom = float((w * expected).sum())
    if denom == 0.0:
        return None
    return 1.0 - float((w * m).sum()) / denom


def krippendorff_alpha(
    reliability: Sequence[Sequence[float | None]],
    *,
    level: AlphaLevel = "nominal",
) -> float | None:
    """Krippendorff's alpha for ``reliability[coder][unit]`` (None = missing value).

    Values must be numbers (map category labels to codes first). Units with fewer than
    two values are not pairable and are left out. Ordinal uses Krippendorff's rank
    metric (sums of category frequencies between two values); interval the squared
    difference.

    Returns:
        alpha, or None when undefined (fewer than two pairable values, or no expected
        disagreement because every value is the same).

    Example:
        >>> krippendorff_alpha([[1, 2, 3], [1, 2, 3]])
        1.0
    """
    units = AlphaUnits.build(reliability)
    return units.alpha(np.arange(units.n_units), level)


@dataclass(frozen=True, slots=True)
class AlphaUnits:
    """Per-unit coincidence contributions, so alpha over any resample of units is a sum.

    Attributes:
        values: the distinct values, sorted.
        per_unit: array (units, k, k): unit u's contribution to the coincidence matrix.
    """

    values: list[float]
    per_unit: np.ndarray

    @property
    def n_units(self) -> int:
        """Number of units (items)."""
        return int(self.per_unit.shape[0])

    @classmethod
    def build(cls, reliability: Sequence[Sequence[float | None]]) -> AlphaUnits:
        """Precompute from ``reliability[coder][unit]``."""
        coders = [list(row) for row in reliability]
        n_units = len(coders[0]) if coders else 0
        if any(len(row) != n_units for row in coders):
            raise ValueError("every coder must rate the same units (use None for missing)")
        values = sorted({float(v) for row in coders for v in row if v is not None})
        index = {v: i for i, v in enumerate(values)}
        k = len(values)
        per_unit = np.zeros((n_units, k, k), dtype=float)
        for u in range(n_units):
            unit = [index[float(v)] for row in coders if (v := row[u]) is not None]
            m_u = len(unit)
            if m_u < 2:
                continue  # not pairable
            counts = np.bincount(unit, minlength=k).astype(float)
            per_unit[u] = (np.outer(counts, counts) - np.diag(counts)) / (m_u - 1)
        return cls(values, per_unit)

    def alpha(self, units: np.ndarray, level: AlphaLevel) -> float | None:
        """Alpha over the units at indices ``units`` (repeats allowed)."""
        if not self.values:
            return None
        coincidence = self.per_unit[units].sum(axis=0)
        n_c = coincidence.sum(axis=1)
        n = float(n_c.sum())
        if n < 2:
            return None
        delta = _alpha_delta(self.values, n_c, level)
        d_observed = float((coincidence * delta).sum()) / n
        d_expected = float((np.outer(n_c, n_c) * delta).sum()) / (n * (n - 1))
        if d_expected == 0.0:
            return None
        return 1.0 - d_observed / d_expected


def _alpha_delta(values: list[float], n_c: np.ndarray, level: AlphaLevel) -> np.ndarray:
    v = np.asarray(values, dtype=float)
    k = len(values)
    out: np.ndarray
    if level == "nominal":
        out = (np.arange(k)[:, None] != np.arange(k)[None, :]).astype(float)
    elif level == "interval":
        out = (v[:, None] - v[None, :]) ** 2
    else:
        # ordinal: (sum_{g=c}^{k} n_g - (n_c + n_k)/2)^2 = squared distance between the
        # cumulative midpoints of the two categories
        cum = np.cumsum(n_c)
        mid = cum - n_c / 2.0
        out = (mid[:, None] - mid[None, :]) ** 2
    return out


@dataclass(frozen=True, slots=True)
class McNemarResult:
    """McNemar's test on the discordant counts of a paired binary table.

    Attributes:
        b: items where rater 1 says yes and rater 2 says no.
        c: items where rater 1 says no and rater 2 says yes.
        p_exact: two-sided exact binomial p-value (1 when ``b + c == 0``).
        p_mid: mid-p variant (recommended by Fagerland et al. 2013).
    """

    b: int
    c: int
    p_exact: float
    p_mid: float


def mcnemar(b: int, c: int) -> McNemarResult:
    """Exact and mid-p McNemar tests for discordant counts ``b`` and ``c``.

    With no discordant pairs there is no evidence of bias: both p-values are 1.
    """
    m = b + c
    if m == 0:
        return McNemarResult(b=b, c=c, p_exact=1.0, p_mid=1.0)
    low = min(b, c)
    two_tail = 2.0 * float(sps.binom.cdf(low, m, 0.5))
    p_exact = min(1.0, two_tail)
    # subtract half of both tails' point mass from the uncapped sum, then cap
    p_mid = min(1.0, two_tail - float(sps.binom.pmf(low, m, 0.5)))
    return McNemarResult(b=b, c=c, p_exact=p_exact, p_mid=p_mid)
