"""Paired comparison of two aligned score vectors: the numbers behind every table row.

:func:`paired_summary` picks the right procedure for the data and says which it used:

* binary scores (every per-case value 0 or 1): Wilson intervals for each rate; the
  paired delta by multinomial bootstrap of the cell counts (Newcombe's square-and-add
  when a discordant cell is empty); McNemar exact p (mid-p and chi-square beside it); the
  MDE from Connor's formula at the observed discordance.
* continuous scores (or per-case means over epochs): t intervals for each mean; the
  paired delta by bootstrap of d_i; paired t (Wilcoxon beside it); the MDE from the
  paired SD (Miller).
* clusters (cases sharing a ``cluster``): cluster bootstrap, CR1 standard error, a
  cluster-robust t test with C - 1 degrees of freedom, and MDEs inflated by the design
  effect.
* weights: weighted means, the bootstrap of the weighted mean, a linearised z test.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field
from scipy import stats as _st

from nullband.stats._binary_fast import MAX_FFT_N, binary_pmf_fft, histogram_quantile
from nullband.stats._result import SeedLike, check_level, finite_or_none, make_rng
from nullband.stats.bootstrap import CIMethod, bootstrap_mean, paired_binary_bootstrap
from nullband.stats.cluster import clustered_se
from nullband.stats.epochs import effective_n
from nullband.stats.mcnemar import mcnemar
from nullband.stats.newcombe import newcombe_paired
from nullband.stats.power import connor_mde, miller_mde
from nullband.stats.proportions import wilson
from nullband.stats.tests import paired_t, wilcoxon

MetricKind = Literal["binary", "continuous"]


class Discordant(BaseModel):
    """Discordant pairs of a binary comparison."""

    baseline_only: int = Field(description="Cases only the baseline passed (n10).")
    candidate_only: int = Field(description="Cases only the candidate passed (n01).")


class PairedSummary(BaseModel):
    """Baseline vs candidate on one set of paired cases (overall or one segment)."""

    kind: MetricKind = Field(description="'binary' (0/1 per case) or 'continuous'.")
    n: int = Field(description="Paired cases (after averaging epochs).")
    n_clusters: int | None = Field(
        default=None, description="Clusters, when cases are clustered; null otherwise."
    )
    baseline_mean: float | None = Field(description="Baseline mean (pass rate for binary).")
    candidate_mean: float | None = Field(description="Candidate mean.")
    baseline_ci: list[float] | None = Field(description="Interval of the baseline mean.")
    candidate_ci: list[float] | None = Field(description="Interval of the candidate mean.")
    mean_ci_method: str = Field(description="How the two mean intervals were made.")
    delta: float | None = Field(description="candidate_mean - baseline_mean.")
    delta_ci: list[float] | None = Field(description="Interval of the paired delta.")
    ci_method: str = Field(description="How delta_ci was made.")
    delta_ci_exact: list[float] | None = Field(
        default=None,
        description="Binary only: the percentile interval of the exact (infinite-resample) "
        "bootstrap, seed-free; delta_ci may differ from it by one 1/n step.",
    )
    se: float | None = Field(description="Standard error of the delta (clustered when clustered).")
    df: float | None = Field(default=None, description="Degrees of freedom for t-based tests.")
    discordant: Discordant | None = Field(description="Discordant counts; null unless binary.")
    p_value: float | None = Field(description="Two-sided p-value of the main test.")
    test: str | None = Field(description="Name of the main test.")
    p_mid: float | None = Field(default=None, description="McNemar mid-p (binary only).")
    tests: dict[str, float | None] = Field(
        default_factory=dict, description="Every p-value computed, by test name."
    )
    discordance: float | None = Field(
        default=None, description="Share of cases where exactly one side passed (binary)."
    )
    mde: float | None = Field(description="Minimum detectable effect at 80% power.")
    mde_method: str | None = Field(default=None, description="'connor' or 'miller'.")
    weighted: bool = Field(default=False, description="True when case weights were applied.")
    confidence: float = Field(description="Confidence level of every interval.")
    seed: int | None = Field(description="Seed of the bootstrap.")
    resamples: int = Field(description="Bootstrap resamples.")
    unavailable: dict[str, str] = Field(
        default_factory=dict, description="Field -> why it is null."
    )
    notes: list[str] = Field(default_factory=list, description="Method notes in words.")


def _t_interval(x: np.ndarray, se: float, df: float, confidence: float) -> list[float]:
    q = float(_st.t.ppf(0.5 + confidence / 2, df)) if df > 0 else float("inf")
    m = float(x.mean())
    return [m - q * se, m + q * se]


def paired_summary(
    baseline: np.ndarray,
    candidate: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    clusters: np.ndarray | None = None,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: SeedLike = 0,
    ci_method: CIMethod = "percentile",
    kind: MetricKind | None = None,
) -> PairedSummary:
    """Compare two aligned per-case score vectors.

    Args:
        baseline: one value per case (0/1 for binary metrics; per-case epoch means).
        candidate: the same cases in the same order.
        weights: optional case weights (> 0); equal weights count as unweighted.
        clusters: optional cluster label per case.
        confidence: interval level.
        resamples: bootstrap resamples.
        seed: seed or Generator; the seed is stored.
        ci_method: 'percentile' (default) or 'bca'.
        kind: force 'binary' or 'continuous'; by default binary when all values are 0/1.

    Example:
        >>> import numpy as np
        >>> a = np.r_[np.ones(599), np.zeros(241)]
        >>> b = np.r_[np.ones(550), np.zeros(49), np.ones(67), np.zeros(174)]
        >>> s = paired_summary(a, b)
        >>> s.test, round(s.p_value, 3), s.discordant.baseline_only
        ('mcnemar-exact', 0.114, 49)
    """
    check_level(confidence)
    _, s = make_rng(seed)
    a = np.asarray(baseline, dtype=np.float64)
    b = np.asarray(candidate, dtype=np.float64)
    n = a.shape[0]
    base: dict[str, Any] = {"confidence": confidence, "seed": s, "resamples": resamples}
    if n == 0:
        why = "no paired cases"
        return PairedSummary(
            kind=kind or "binary",
            n=0,
            baseline_mean=None,
            candidate_mean=None,
            baseline_ci=None,
            candidate_ci=None,
            mean_ci_method="none",
            delta=None,
            delta_ci=None,
            ci_method="none",
            se=None,
            discordant=None,
            p_value=None,
            test=None,
            mde=None,
            unavailable={k: why for k in ("delta", "delta_ci", "p_value", "mde")},
            **base,
        )
    is01 = bool(np.all((a == 0) | (a == 1)) and np.all((b == 0) | (b == 1)))
    k = kind if kind is not None else ("binary" if is01 else "continuous")
    if k == "binary" and not is01:
        k = "continuous"
    w = None
    if weights is not None:
        wa = np.asarray(weights, dtype=np.float64)
        if not np.allclose(wa, wa[0]):
            w = wa
    cl = None
    if clusters is not None:
        labels = np.asarray(clusters)
        if np.unique(labels).shape[0] < n:
            cl = labels
    d = b - a
    if w is not None:
        return _weighted(a, b, d, w, cl, k, confidence, resamples, seed, ci_method, base)
    if k == "binary" and cl is None:
        return _binary(a, b, d, confidence, resamples, seed, ci_method, base)
    return _general(a, b, d, cl, k, confidence, resamples, seed, ci_method, base)


def _binary(
    a: np.ndarray,
    b: np.ndarray,
    d: np.ndarray,
    confidence: float,
    resamples: int,
    seed: SeedLike,
    ci_method: CIMethod,
    base: dict[str, Any],
) -> PairedSummary:
    n = a.shape[0]
    n10 = int(np.count_nonzero(d < 0))
    n01 = int(np.count_nonzero(d > 0))
    n11 = int(np.count_nonzero((a == 1) & (b == 1)))
    n00 = n - n10 - n01 - n11
    wa, wb = wilson(int(a.sum()), n, confidence), wilson(int(b.sum()), n, confidence)
    notes: list[str] = []
    unavailable: dict[str, str] = {}
    if n10 == 0 or n01 == 0:
        iv = newcombe_paired(n11, n10, n01, n00, confidence)
        notes.append(
            "a discordant cell is empty, so resampling degenerates; the delta interval is "
            "Newcombe's square-and-add"
        )
    else:
        iv = paired_binary_bootstrap(
            n10, n01, n, confidence=confidence, resamples=resamples, seed=seed, method=ci_method
        ).interval
        if not iv.available and iv.reason:
            unavailable["delta_ci"] = iv.reason
    exact = None
    if iv.method.startswith("paired-bootstrap-percentile") and n <= MAX_FFT_N:
        ks, pmf = binary_pmf_fft(n10, n01, n)
        cum = np.cumsum(pmf)
        alpha = 1 - confidence
        exact = [
            histogram_quantile(ks, cum, 1, alpha / 2) / n,
            histogram_quantile(ks, cum, 1, 1 - alpha / 2) / n,
        ]
    mc = mcnemar(n10, n01)
    psi = (n10 + n01) / n
    delta = (n01 - n10) / n
    se = math.sqrt(max(psi - delta * delta, 0.0) / n)
    mde = connor_mde(psi, n, confidence=confidence)
    if mde.value is None and mde.reason:
        unavailable["mde"] = mde.reason
    if mc.reason:
        notes.append(mc.reason)
    return PairedSummary(
        kind="binary",
        n=n,
        baseline_mean=float(a.mean()),
        candidate_mean=float(b.mean()),
        baseline_ci=wa.as_list(),
        candidate_ci=wb.as_list(),
        mean_ci_method="wilson",
        delta=delta,
        delta_ci=iv.as_list(),
        ci_method=iv.method,
        delta_ci_exact=exact,
        se=se,
        df=None,
        discordant=Discordant(baseline_only=n10, candidate_only=n01),
        p_value=mc.p_exact,
        test="mcnemar-exact",
        p_mid=mc.p_mid,
        tests={
            "mcnemar-exact": mc.p_exact,
            "mcnemar-mid-p": mc.p_mid,
            "mcnemar-chi2": mc.p_chi2,
            "mcnemar-chi2-cc": mc.p_chi2_cc,
        },
        discordance=psi,
        mde=mde.value,
        mde_method="connor",
        unavailable=unavailable,
        notes=notes,
        **base,
    )


def _general(
    a: np.ndarray,
    b: np.ndarray,
    d: np.ndarray,
    cl: np.ndarray | None,
    kind: MetricKind,
    confidence: float,
    resamples: int,
    seed: SeedLike,
    ci_method: CIMethod,
    base: dict[str, Any],
) -> PairedSummary:
    n = a.shape[0]
    notes: list[str] = []
    unavailable: dict[str, str] = {}
    boot = bootstrap_mean(
        d, clusters=cl, confidence=confidence, resamples=resamples, seed=seed, method=ci_method
    )
    iv = boot.interval
    if not iv.available and iv.reason:
        unavailable["delta_ci"] = iv.reason
    elif iv.reason:
        notes.append(iv.reason)
    delta = float(d.mean())
    n_clusters: int | None = None
    tests: dict[str, float | None] = {}
    if cl is not None:
        cse = clustered_se(d, cl)
        n_clusters = cse.clusters
        se, df = cse.se_cr1, float(cse.clusters - 1)
        deff = cse.design_effect or 1.0
        if se > 0 and df > 0:
            p: float | None = float(2 * _st.t.sf(abs(delta) / se, df))
        elif delta == 0:
            p = 1.0
        else:
            p = None
            unavailable["p_value"] = "zero clustered standard error with a non-zero delta"
        test = "cluster-robust-t"
        tests[test] = p
        notes.append(
            f"{n_clusters} clusters: cluster bootstrap, CR1 standard error, t with "
            f"{n_clusters - 1} df; design effect {deff:.2f}"
        )
        sa = clustered_se(a, cl).se_cr1
        sb = clustered_se(b, cl).se_cr1
    else:
        deff = 1.0
        se = float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0
        df = float(n - 1)
        tt = paired_t(d)
        p, test = tt.p_value, "paired-t"
        if tt.p_value is None and tt.reason:
            unavailable["p_value"] = tt.reason
        tests[test] = p
        sa = float(a.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0
        sb = float(b.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0
    tests["wilcoxon"] = wilcoxon(d).p_value
    if kind == "binary" or _in_unit(a, b):
        # Rates (or per-case mean rates): Wilson on the case-level mean, n shrunk by DEFF.
        n_eff = n / deff if deff > 0 else n
        wa = wilson(float(a.mean()) * n_eff, max(1, round(n_eff)), confidence)
        wb = wilson(float(b.mean()) * n_eff, max(1, round(n_eff)), confidence)
        ci_a, ci_b, mean_method = wa.as_list(), wb.as_list(), "wilson"
        if deff != 1.0:
            mean_method = "wilson (effective n = n / design effect)"
    else:
        ci_a = _t_interval(a, sa, df, confidence) if df > 0 else None
        ci_b = _t_interval(b, sb, df, confidence) if df > 0 else None
        mean_method = "t"
    var_d = float(d.var(ddof=1)) if n > 1 else 0.0
    mde = miller_mde(var_d * deff, n, confidence=confidence)
    if mde.value is None and mde.reason:
        unavailable["mde"] = mde.reason
    if kind == "binary":
        notes.append("per-case values are means over epochs, so McNemar does not apply")
    return PairedSummary(
        kind="continuous",
        n=n,
        n_clusters=n_clusters,
        baseline_mean=float(a.mean()),
        candidate_mean=float(b.mean()),
        baseline_ci=ci_a,
        candidate_ci=ci_b,
        mean_ci_method=mean_method,
        delta=delta,
        delta_ci=iv.as_list(),
        ci_method=iv.method,
        se=finite_or_none(se),
        df=df,
        discordant=None,
        p_value=p,
        test=test,
        tests=tests,
        mde=mde.value,
        mde_method="miller",
        unavailable=unavailable,
        notes=notes,
        **base,
    )


def _in_unit(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(a.min() >= 0 and b.min() >= 0 and a.max() <= 1 and b.max() <= 1)


def _weighted(
    a: np.ndarray,
    b: np.ndarray,
    d: np.ndarray,
    w: np.ndarray,
    cl: np.ndarray | None,
    kind: MetricKind,
    confidence: float,
    resamples: int,
    seed: SeedLike,
    ci_method: CIMethod,
    base: dict[str, Any],
) -> PairedSummary:
    sw = float(w.sum())
    ma, mb = float(w @ a / sw), float(w @ b / sw)
    delta = mb - ma
    boot = bootstrap_mean(
        d,
        weights=w,
        clusters=cl,
        confidence=confidence,
        resamples=resamples,
        seed=seed,
        method=ci_method,
    )
    iv = boot.interval
    # Linearised SE of a ratio estimator: sqrt(sum w^2 (d - delta)^2) / sum w.
    resid = w * (d - delta)
    if cl is not None:
        _, inv = np.unique(cl, return_inverse=True)
        sums = np.bincount(inv, weights=resid)
        c = sums.shape[0]
        se = math.sqrt(float(sums @ sums) * c / max(c - 1, 1)) / sw
    else:
        se = math.sqrt(float(resid @ resid)) / sw
    n_eff = effective_n(w)
    if se > 0:
        p: float | None = float(2 * _st.norm.sf(abs(delta) / se))
    else:
        p = 1.0 if delta == 0 else 0.0
    unavailable: dict[str, str] = {}
    if not iv.available and iv.reason:
        unavailable["delta_ci"] = iv.reason
    n = a.shape[0]
    discordant = None
    if kind == "binary" and _in_unit(a, b) and np.all((a == 0) | (a == 1)):
        discordant = Discordant(
            baseline_only=int(np.count_nonzero(d < 0)), candidate_only=int(np.count_nonzero(d > 0))
        )
    notes = [f"weighted means (total weight {sw:g}, Kish effective n {n_eff:.1f})"]
    if discordant is not None and 0 in (discordant.baseline_only, discordant.candidate_only):
        n11 = int(np.count_nonzero((a == 1) & (b == 1)))
        n10, n01 = discordant.baseline_only, discordant.candidate_only
        iv = newcombe_paired(n11, n10, n01, n - n11 - n10 - n01, confidence)
        unavailable.pop("delta_ci", None)
        notes.append(
            "a discordant cell is empty, so resampling degenerates; the delta interval is "
            "Newcombe's square-and-add on the unweighted table"
        )
    var_d = float(np.sum(w * (d - delta) ** 2) / sw)
    mde = miller_mde(var_d, n_eff, confidence=confidence)
    if mde.value is None and mde.reason:
        unavailable["mde"] = mde.reason
    if _in_unit(a, b):
        wa = wilson(ma * n_eff, max(1, round(n_eff)), confidence).as_list()
        wb = wilson(mb * n_eff, max(1, round(n_eff)), confidence).as_list()
        mean_method = "wilson (Kish effective n)"
    else:
        wa = wb = None
        mean_method = "none"
        unavailable["baseline_ci"] = unavailable["candidate_ci"] = (
            "weighted means of scores outside [0, 1] get no interval; see delta_ci"
        )
    return PairedSummary(
        kind=kind,
        n=n,
        baseline_mean=ma,
        candidate_mean=mb,
        baseline_ci=wa,
        candidate_ci=wb,
        mean_ci_method=mean_method,
        delta=delta,
        delta_ci=iv.as_list(),
        ci_method=iv.method,
        se=se,
        df=None,
        discordant=discordant,
        p_value=p,
        test="weighted-z",
        tests={"weighted-z": p},
        mde=mde.value,
        mde_method="miller",
        weighted=True,
        unavailable=unavailable,
        notes=notes,
        **base,
    )


def paired_continuous(
    baseline: np.ndarray,
    candidate: np.ndarray,
    *,
    clusters: np.ndarray | None = None,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: SeedLike = 0,
    ci_method: CIMethod = "percentile",
) -> PairedSummary:
    """Paired delta of continuous scores (e.g. argument F1) with a bootstrap interval,
    paired t and Wilcoxon p-values and the MDE from the paired SD."""
    return paired_summary(
        baseline,
        candidate,
        clusters=clusters,
        confidence=confidence,
        resamples=resamples,
        seed=seed,
        ci_method=ci_method,
        kind="continuous",
    )
