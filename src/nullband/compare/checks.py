"""Validity checks of a gate: alignment, repeat runs, provenance, judge trust (INVALID)."""

from __future__ import annotations

from typing import Any

from nullband.compare.gate_config import GateConfig
from nullband.compare.model import Comparison, RuleResult
from nullband.compare.pairing import served_matches

_SHOW = 20


def _ids(cases: list[str]) -> str:
    more = f" and {len(cases) - _SHOW} more" if len(cases) > _SHOW else ""
    return ", ".join(cases[:_SHOW]) + more


def _check(name: str, ok: bool, reason: str) -> RuleResult:
    return RuleResult(name=name, kind="check", decision="PASS" if ok else "INVALID", reason=reason)


def validity_checks(cmp: Comparison, gate: GateConfig, judge_audit: Any = None) -> list[RuleResult]:
    """Alignment, repeat-run, provenance and judge-trust checks; each PASS or INVALID."""
    out: list[RuleResult] = []
    mism = cmp.pairing.hash_mismatches
    if mism and not gate.allow_hash_mismatch:
        out.append(
            _check(
                "alignment",
                False,
                f"{len(mism)} cases have different content on the two sides ({_ids(mism)}): the runs "
                "did not use the same suite; rerun both on one suite or set allow_hash_mismatch",
            )
        )
    else:
        out.append(_check("alignment", True, f"{cmp.pairing.paired} cases paired by id and hash"))
    if gate.max_epoch_spread is not None:
        for ep in cmp.epochs:
            if ep.spread is None:
                continue
            rates = ", ".join(f"{r * 100:.1f}%" for r in ep.rates)
            if ep.spread > gate.max_epoch_spread + 1e-12:
                out.append(
                    _check(
                        f"epochs:{ep.side}",
                        False,
                        f"{ep.side} epochs spread by {ep.spread * 100:.1f} points ({rates}), more than "
                        f"the {gate.max_epoch_spread * 100:g} allowed: the harness is nondeterministic "
                        f"and must be fixed before any comparison is trusted; "
                        f"{len(ep.flipping)} cases flip between epochs: {_ids(ep.flipping)}",
                    )
                )
            else:
                out.append(
                    _check(
                        f"epochs:{ep.side}",
                        True,
                        f"{ep.side} epochs spread by {ep.spread * 100:.1f} points ({rates})",
                    )
                )
    out.extend(_provenance_checks(cmp, gate))
    metric = cmp.metric
    if metric in gate.judge.metrics:
        from nullband.judges.trust import check_judges_for_gate

        jc = check_judges_for_gate(
            judge_audit,
            metric=metric,
            judges=gate.judge.judges or None,
            allow_untrusted=gate.judge.allow_untrusted_judge,
        )
        ok = jc.decision != "invalid"
        text = (
            "; ".join(r.strip() for r in jc.reasons) or f"the judges behind {metric!r} are trusted"
        )
        out.append(_check("judges", ok, text))
    return out


def _provenance_checks(cmp: Comparison, gate: GateConfig) -> list[RuleResult]:
    pol = gate.provenance
    out: list[RuleResult] = []
    problems: list[str] = []
    for side_name in ("baseline", "candidate"):
        side = getattr(cmp.provenance, side_name)
        pinned = getattr(pol.pinned, side_name) if pol.pinned else None
        if pol.require_pinned and side.mismatched_rows:
            problems.append(
                f"{side_name}: {side.mismatched_rows} rows were served by a model other than the "
                f"pinned one (requested {', '.join(side.requested) or '?'}; served "
                f"{', '.join(side.served)}); cases {_ids(side.mismatched_cases)}"
            )
        if pinned is not None:
            wrong = [
                m for m in list(side.requested) + list(side.served) if not served_matches(pinned, m)
            ]
            if wrong:
                problems.append(
                    f"{side_name}: pinned to {pinned} but requested/served {', '.join(sorted(set(wrong)))}"
                )
        if pol.one_model_per_side and len(side.served) > 1:
            counts = ", ".join(f"{m} ({c} rows)" for m, c in side.served.items())
            problems.append(f"{side_name}: served by {len(side.served)} models: {counts}")
        if pol.require_known and side.unknown_rows:
            problems.append(f"{side_name}: {side.unknown_rows} rows do not say which model served")
    cross = cmp.provenance.cross_mismatched_cases
    if pol.same_on_both_sides and cross:
        problems.append(
            f"{len(cross)}+ cases were served by different models on the two sides: {_ids(cross)}"
        )
    if problems:
        out.append(
            _check(
                "provenance",
                False,
                "provenance: "
                + "; ".join(problems)
                + ". A comparison against a model you did not pin is not meaningful; fix the "
                "routing (or relax `provenance:` in the gate on purpose)",
            )
        )
    else:
        served = "; ".join(
            f"{n}: {', '.join(getattr(cmp.provenance, n).served) or 'unknown'}"
            for n in ("baseline", "candidate")
        )
        out.append(_check("provenance", True, f"served models as pinned ({served})"))
    return out
