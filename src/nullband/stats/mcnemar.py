"""McNemar's test for paired binary outcomes: exact, mid-p and chi-square forms.

``b`` counts cases only the baseline passed, ``c`` cases only the candidate passed.
With no discordant pairs the exact and mid-p values are 1 and the chi-square statistic
is undefined (statsmodels returns p = 0 there, which is wrong).
"""

from __future__ import annotations

from dataclasses import dataclass

from scipy import stats as _st


@dataclass(frozen=True)
class McNemarResult:
    """The McNemar p-values for one 2x2 table."""

    baseline_only: int
    """b: cases only the baseline passed."""
    candidate_only: int
    """c: cases only the candidate passed."""
    p_exact: float
    """Two-sided exact binomial p: min(1, 2 F(min(b, c); b + c, 1/2)); 1 when b + c = 0."""
    p_mid: float
    """Mid-p: the exact p minus the point probability of the observed table, capped at 1."""
    chi2: float | None
    """(b - c)^2 / (b + c) without continuity correction; None when b + c = 0."""
    p_chi2: float | None
    """Chi-square (1 df) p of ``chi2``; None when b + c = 0."""
    chi2_cc: float | None
    """(|b - c| - 1)^2 / (b + c), continuity-corrected; None when b + c = 0."""
    p_chi2_cc: float | None
    """Chi-square p of ``chi2_cc``; None when b + c = 0."""
    reason: str | None = None
    """Why the chi-square forms are None."""

    def p_one_sided(self, alternative: str = "candidate_worse") -> float:
        """Exact one-sided p: 'candidate_worse' tests c < b, 'candidate_better' c > b."""
        m = self.baseline_only + self.candidate_only
        if m == 0:
            return 1.0
        k = self.candidate_only if alternative == "candidate_worse" else self.baseline_only
        return float(min(1.0, _st.binom.cdf(k, m, 0.5)))


def mcnemar(b: int, c: int) -> McNemarResult:
    """McNemar's test from the discordant counts.

    Args:
        b: cases the baseline passed and the candidate failed.
        c: cases the candidate passed and the baseline failed.

    Example:
        >>> r = mcnemar(49, 67)
        >>> round(r.p_exact, 4), round(r.p_mid, 4)
        (0.1137, 0.0957)
    """
    b, c = int(b), int(c)
    if b < 0 or c < 0:
        from nullband.errors import StatsError

        raise StatsError(f"discordant counts must be >= 0, got b={b}, c={c}")
    m = b + c
    if m == 0:
        return McNemarResult(
            b,
            c,
            1.0,
            1.0,
            None,
            None,
            None,
            None,
            reason="no discordant pairs: the chi-square statistic is undefined (p = 1 exact)",
        )
    lo = min(b, c)
    cdf = float(_st.binom.cdf(lo, m, 0.5))
    pmf = float(_st.binom.pmf(lo, m, 0.5))
    p_exact = min(1.0, 2.0 * cdf)
    p_mid = min(1.0, 2.0 * cdf - pmf)
    chi2 = (b - c) ** 2 / m
    chi2_cc = (max(abs(b - c) - 1, 0)) ** 2 / m
    return McNemarResult(
        b,
        c,
        p_exact,
        p_mid,
        chi2,
        float(_st.chi2.sf(chi2, 1)),
        chi2_cc,
        float(_st.chi2.sf(chi2_cc, 1)),
    )
