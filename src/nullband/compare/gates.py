"""Gate evaluation: validity checks (``checks``) first, then the rules (PASS/FAIL/INCONCLUSIVE)."""

from __future__ import annotations

import math
from typing import Any

from scipy import stats as _st

from nullband.compare.checks import validity_checks
from nullband.compare.gate_config import (
    FloorRule,
    GateConfig,
    NonInferiorityRule,
    SuperiorityRule,
    WorstSegmentRule,
)
from nullband.compare.model import (
    EXIT_CODES,
    Comparison,
    Decision,
    GateResult,
    RuleResult,
    SegmentCheck,
    SegmentSummary,
)
from nullband.compare.wording import (
    ci_text,
    delta_phrase,
    is_rate,
    nice_effect,
    power_phrase,
    pts,
    unit,
)
from nullband.stats.multiplicity import holm
from nullband.stats.paired import PairedSummary
from nullband.stats.tests import one_sided_t


def _summary(cmp: Comparison, scope: str) -> PairedSummary:
    if scope == "weighted":
        if cmp.weighted is None:
            from nullband.errors import ConfigError

            raise ConfigError("a 'weighted' rule needs a comparison made with weights")
        return cmp.weighted
    return cmp.overall


def _interval_rule(
    s: PairedSummary, lo_bound: float, *, name: str, kind: str, plan_effect: float
) -> RuleResult:
    """Shared logic of superiority (bound = min_effect) and non-inferiority (bound = -margin)."""
    rate = is_rate(s)
    head = delta_phrase(s)
    power = power_phrase(s, plan_effect)
    tail = f"; {power}" if power else ""
    if s.delta_ci is None:
        why = s.unavailable.get("delta_ci", "no interval")
        return RuleResult(
            name=name, kind=kind, decision="INCONCLUSIVE", reason=f"{head}: {why}{tail}"
        )
    lo, hi = s.delta_ci
    if kind == "superiority":
        if lo > lo_bound:
            what = (
                "the improvement is real"
                if lo_bound == 0
                else (f"the improvement exceeds {pts(lo_bound, rate, signed=False)} {unit(rate)}")
            )
            return RuleResult(
                name=name,
                kind=kind,
                decision="PASS",
                reason=f"{head}: {what} at {s.confidence:.0%} confidence",
            )
        if hi <= lo_bound:
            return RuleResult(
                name=name,
                kind=kind,
                decision="FAIL",
                reason=f"{head}: the candidate is not better{tail}",
            )
        why = (
            "a regression is not ruled out"
            if lo <= 0
            else (
                f"an improvement below {pts(lo_bound, rate, signed=False)} {unit(rate)} is not ruled out"
            )
        )
        return RuleResult(
            name=name, kind=kind, decision="INCONCLUSIVE", reason=f"{head}: {why}{tail}"
        )
    margin = -lo_bound
    mtxt = f"{pts(margin, rate, signed=False)} {unit(rate)}"
    if lo > lo_bound:
        return RuleResult(
            name=name,
            kind=kind,
            decision="PASS",
            reason=f"{head}: no loss larger than {mtxt} at {s.confidence:.0%} confidence",
        )
    if hi < lo_bound:
        return RuleResult(
            name=name,
            kind=kind,
            decision="FAIL",
            reason=f"{head}: the candidate is worse by more than the {mtxt} margin",
        )
    return RuleResult(
        name=name,
        kind=kind,
        decision="INCONCLUSIVE",
        reason=f"{head}: a loss larger than the {mtxt} margin is not ruled out{tail}",
    )


def _gated(
    cmp: Comparison, dim: str, min_cases: int
) -> tuple[list[SegmentSummary], list[SegmentSummary]]:
    segs = [s for s in cmp.segments if s.dimension == dim]
    if not segs:
        from nullband.errors import ConfigError

        raise ConfigError(
            f"the gate needs segments of {dim!r} but the comparison has none",
            hint=f"compare with --by {dim}",
        )
    return [s for s in segs if s.n >= min_cases], [s for s in segs if s.n < min_cases]


def _p_regression(s: SegmentSummary, margin: float) -> float | None:
    if s.delta is None:
        return None
    if s.kind == "binary" and margin == 0 and s.discordant is not None:
        m = s.discordant.baseline_only + s.discordant.candidate_only
        if m == 0:
            return 1.0
        return float(_st.binom.cdf(s.discordant.candidate_only, m, 0.5))
    return one_sided_t(s.delta, s.se, s.df, margin)


def _worst_segment(cmp: Comparison, rule: WorstSegmentRule, min_cases: int) -> RuleResult:
    name = rule.name or f"worst_segment:{rule.by}"
    gated, low = _gated(cmp, rule.by, min_cases)
    alpha = 1 - cmp.confidence
    ps = [_p_regression(s, rule.margin) for s in gated]
    adj = holm(ps)
    checks: list[SegmentCheck] = []
    for s, p, pa in zip(gated, ps, adj, strict=True):
        rate = is_rate(s)
        desc = (
            f"{s.dimension}={s.segment}: {pts(s.delta or 0.0, rate)} {unit(rate)}, "
            f"{ci_text(s.delta_ci, s.confidence, rate)}, n={s.n}"
        )
        if pa is not None and pa < alpha:
            dec: Decision = "FAIL"
            why = f"{desc}: regressed beyond the margin (one-sided p={p:.3g}, Holm p={pa:.3g})"
        elif rule.require_noninferiority and (s.delta_ci is None or s.delta_ci[0] <= -rule.margin):
            dec = "INCONCLUSIVE"
            why = f"{desc}: non-inferiority not shown (Holm p={pa:.3g})" if pa is not None else desc
        else:
            dec = "PASS"
            why = f"{desc}: no regression shown (Holm p={pa:.3g})" if pa is not None else desc
        checks.append(
            SegmentCheck(
                dimension=s.dimension,
                segment=s.segment,
                n=s.n,
                decision=dec,
                value=s.delta,
                ci=s.delta_ci,
                p_value=p,
                p_adjusted=pa,
                reason=why,
            )
        )
    failed = [c for c in checks if c.decision == "FAIL"]
    unsure = [c for c in checks if c.decision == "INCONCLUSIVE"]
    low_txt = f"; {len(low)} segments under {min_cases} cases flagged, not gated" if low else ""
    mtxt = f" by more than {rule.margin * 100:g} points" if rule.margin else ""
    if not checks:
        return RuleResult(
            name=name,
            kind=rule.kind,
            decision="INCONCLUSIVE",
            reason=f"no {rule.by} segment has {min_cases} cases{low_txt}",
        )
    if failed:
        worst = "; ".join(c.reason for c in failed)
        return RuleResult(
            name=name,
            kind=rule.kind,
            decision="FAIL",
            segments=checks,
            reason=f"{len(failed)} of {len(checks)} {rule.by} segments regressed{mtxt} "
            f"after Holm: {worst}{low_txt}",
        )
    if unsure:
        return RuleResult(
            name=name,
            kind=rule.kind,
            decision="INCONCLUSIVE",
            segments=checks,
            reason=f"{len(unsure)} of {len(checks)} {rule.by} segments cannot rule out a loss "
            f"of more than {rule.margin * 100:g} points ({_unsure_detail(gated, unsure, rule)})"
            f"{low_txt}",
        )
    worst_seg = min(gated, key=lambda s: s.delta if s.delta is not None else math.inf)
    rate = is_rate(worst_seg)
    return RuleResult(
        name=name,
        kind=rule.kind,
        decision="PASS",
        segments=checks,
        reason=f"no {rule.by} segment regressed{mtxt} after Holm across "
        f"{len(checks)} segments (worst: {worst_seg.segment}, "
        f"{pts(worst_seg.delta or 0.0, rate)} {unit(rate)}){low_txt}",
    )


def _unsure_detail(
    gated: list[SegmentSummary], unsure: list[SegmentCheck], rule: WorstSegmentRule
) -> str:
    """'widest: ad0, 95% CI [-1.8, +1.8], n=200; this suite detects ...; about N cases ...'."""
    names = {c.segment for c in unsure}
    segs = [s for s in gated if s.segment in names]
    worst = min(segs, key=lambda s: s.delta_ci[0] if s.delta_ci else -math.inf)
    rate = is_rate(worst)
    power = power_phrase(worst, rule.margin or None)
    text = f"e.g. {worst.segment}: {ci_text(worst.delta_ci, worst.confidence, rate)}, n={worst.n}"
    return f"{text}; {power}" if power else text


def _floor_one(
    rate_v: float | None, ci: list[float] | None, n: int, s: PairedSummary, floor: float
) -> float | None:
    """One-sided p that the true rate is below the floor."""
    if rate_v is None or n == 0:
        return None
    if s.kind == "binary":
        return float(_st.binom.cdf(round(rate_v * n), n, floor))
    se = math.sqrt(floor * (1 - floor) / n) if 0 < floor < 1 else 0.0
    return one_sided_t(rate_v - floor, se, None, 0.0) if se > 0 else None


def _floor(cmp: Comparison, rule: FloorRule, min_cases: int) -> RuleResult:
    name = rule.name or (f"floor:{rule.by}" if rule.by else "floor")
    alpha = 1 - cmp.confidence
    units: list[tuple[str, str, PairedSummary]] = []
    low: list[SegmentSummary] = []
    if rule.by is None:
        units = [("overall", "all", cmp.overall)]
    else:
        gated, low = _gated(cmp, rule.by, min_cases)
        units = [(s.dimension, s.segment, s) for s in gated]
    vals = []
    for _, _, s in units:
        v = s.candidate_mean if rule.side == "candidate" else s.baseline_mean
        ci = s.candidate_ci if rule.side == "candidate" else s.baseline_ci
        vals.append((v, ci, _floor_one(v, ci, s.n, s, rule.floor)))
    adj = holm([p for _, _, p in vals]) if rule.basis == "confident" else [None] * len(vals)
    checks: list[SegmentCheck] = []
    for (dim, seg, s), (v, ci, p), pa in zip(units, vals, adj, strict=True):
        vtxt = "n/a" if v is None else f"{v:.3f}"
        citxt = (
            "no interval" if ci is None else f"{cmp.confidence:.0%} CI [{ci[0]:.3f}, {ci[1]:.3f}]"
        )
        desc = f"{dim}={seg}: {rule.side} rate {vtxt} (n={s.n}, {citxt})"
        if v is None:
            dec: Decision = "INCONCLUSIVE"
            why = f"{desc}: no rate"
        elif v >= rule.floor:
            dec, why = "PASS", f"{desc} >= floor {rule.floor:g}"
        elif rule.basis == "point":
            dec, why = "FAIL", f"{desc} is below the floor {rule.floor:g}"
        elif pa is not None and pa < alpha:
            dec, why = "FAIL", f"{desc} is below the floor {rule.floor:g} (Holm p={pa:.3g})"
        else:
            dec = "INCONCLUSIVE"
            why = f"{desc} is below the floor {rule.floor:g}, but not with {cmp.confidence:.0%} confidence"
        checks.append(
            SegmentCheck(
                dimension=dim,
                segment=seg,
                n=s.n,
                decision=dec,
                value=v,
                ci=ci,
                p_value=p,
                p_adjusted=pa,
                reason=why,
            )
        )
    low_txt = f"; {len(low)} segments under {min_cases} cases flagged, not gated" if low else ""
    failed = [c for c in checks if c.decision == "FAIL"]
    unsure = [c for c in checks if c.decision == "INCONCLUSIVE"]
    if failed:
        return RuleResult(
            name=name,
            kind="floor",
            decision="FAIL",
            segments=checks,
            reason=f"{len(failed)} below the floor {rule.floor:g}: "
            + "; ".join(c.reason for c in failed)
            + low_txt,
        )
    if unsure or not checks:
        return RuleResult(
            name=name,
            kind="floor",
            decision="INCONCLUSIVE",
            segments=checks,
            reason=("; ".join(c.reason for c in unsure) or "nothing to check") + low_txt,
        )
    return RuleResult(
        name=name,
        kind="floor",
        decision="PASS",
        segments=checks,
        reason=f"all {len(checks)} at or above the floor {rule.floor:g}{low_txt}",
    )


def evaluate_rule(cmp: Comparison, rule: Any, gate: GateConfig) -> RuleResult:
    """One rule's verdict on a comparison."""
    min_cases = getattr(rule, "min_cases", None) or gate.min_cases
    if isinstance(rule, SuperiorityRule):
        s = _summary(cmp, rule.scope)
        effect = rule.min_effect or nice_effect(abs(s.delta or 0.0))
        return _interval_rule(
            s,
            rule.min_effect,
            name=rule.name or f"superiority:{rule.scope}",
            kind=rule.kind,
            plan_effect=effect,
        )
    if isinstance(rule, NonInferiorityRule):
        s = _summary(cmp, rule.scope)
        return _interval_rule(
            s,
            -rule.margin,
            name=rule.name or f"non_inferiority:{rule.scope}",
            kind=rule.kind,
            plan_effect=rule.margin,
        )
    if isinstance(rule, FloorRule):
        return _floor(cmp, rule, min_cases)
    if isinstance(rule, WorstSegmentRule):
        return _worst_segment(cmp, rule, min_cases)
    raise TypeError(f"unknown rule {rule!r}")


_ORDER: dict[str, int] = {"INVALID": 3, "FAIL": 2, "INCONCLUSIVE": 1, "PASS": 0}


def evaluate_gate(
    cmp: Comparison,
    gate: GateConfig,
    *,
    judge_audit: Any = None,
    config_path: str | None = None,
) -> GateResult:
    """Decide PASS / FAIL / INCONCLUSIVE / INVALID for a comparison.

    INVALID (any validity check failed) wins over FAIL, FAIL over INCONCLUSIVE, and
    INCONCLUSIVE over PASS. Reasons list the deciding items first.

    Args:
        cmp: the comparison (made with the gate's dimensions and weights).
        gate: the gate config.
        judge_audit: the judge audit (model or dict) for judge-derived metrics.
        config_path: the config file, for reports.
    """
    checks = validity_checks(cmp, gate, judge_audit)
    rules = [evaluate_rule(cmp, r, gate) for r in gate.rules]
    worst = max([*checks, *rules], key=lambda r: _ORDER[r.decision])
    decision: Decision = worst.decision if _ORDER[worst.decision] > 0 else "PASS"
    ranked = sorted([*checks, *rules], key=lambda r: -_ORDER[r.decision])
    reasons = [
        f"{r.decision} {r.name}: {r.reason}"
        for r in ranked
        if r.kind != "check" or r.decision != "PASS"
    ]
    return GateResult(
        decision=decision,
        exit_code=EXIT_CODES[decision],
        reasons=reasons,
        rules=rules,
        checks=checks,
        config=config_path,
    )
