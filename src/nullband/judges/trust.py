"""The trust gate: a judge is trusted only if its agreement with humans (kappa) and its
consistency reach configured floors. Raw agreement is never enough on its own.

:func:`check_judges_for_gate` is the hook a comparison gate calls: given the audit of
the judges behind a judge-derived metric, it says whether the gate may rely on them. A
gate that relies on an untrusted (or unaudited) judge is INVALID unless its config
explicitly allows untrusted judges.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from nullband.judges.estimate import Estimate


class TrustFloors(BaseModel):
    """Floors a judge must reach to be trusted (a null floor is not checked)."""

    model_config = ConfigDict(extra="forbid")

    min_kappa: float | None = Field(
        default=0.4, description="Kappa with human labels (moderate agreement by Landis-Koch)."
    )
    min_self_consistency: float | None = Field(
        default=0.85, description="1 - mean flip rate when the same item is asked again."
    )
    min_position_consistency: float | None = Field(
        default=0.75, description="Pairwise: share of pairs with the same winner in both orders."
    )
    use: Literal["point", "lower"] = Field(
        default="point",
        description="Compare the floors with the point estimate or the interval's lower bound.",
    )
    require_human_labels: bool = Field(
        default=True, description="Without human labels kappa is unmeasured: not trusted."
    )


class TrustVerdict(BaseModel):
    """Whether a judge (or a panel) is trusted, and why not."""

    trusted: bool = Field(description="True only when every checked floor is reached.")
    reasons: list[str] = Field(default_factory=list, description="Each floor not reached.")
    checked: dict[str, float | None] = Field(
        default_factory=dict, description="The value compared with each floor."
    )


def _reading(est: Estimate | None, use: str) -> float | None:
    if est is None or not est.ok:
        return None
    return est.lo if use == "lower" and est.lo is not None else est.value


def judge_trust(
    floors: TrustFloors,
    *,
    kappa: Estimate | None,
    self_consistency: Estimate | None,
    position_consistency: Estimate | None,
    pairwise: bool,
) -> TrustVerdict:
    """Apply the floors to one judge's (or a panel's) measured figures."""
    reasons: list[str] = []
    checked: dict[str, float | None] = {}
    which = "lower bound" if floors.use == "lower" else "estimate"
    rules: list[tuple[str, float | None, Estimate | None, bool]] = [
        ("kappa", floors.min_kappa, kappa, floors.require_human_labels),
        ("self_consistency", floors.min_self_consistency, self_consistency, True),
    ]
    if pairwise:
        rules.append(
            ("position_consistency", floors.min_position_consistency, position_consistency, True)
        )
    for name, floor, est, required in rules:
        if floor is None:
            continue
        value = _reading(est, floors.use)
        checked[name] = value
        if value is None:
            if required:
                why = (est.reason if est is not None else None) or "not measured"
                reasons.append(f"{name} could not be checked against {floor:g}: {why}")
            continue
        if value < floor:
            reasons.append(f"{name} {which} {value:.3f} is below the floor {floor:g}")
    return TrustVerdict(trusted=not reasons, reasons=reasons, checked=checked)


class JudgeGateCheck(BaseModel):
    """What a comparison gate learns about the judges behind a metric."""

    decision: Literal["ok", "invalid", "allowed_untrusted"] = Field(
        description="'invalid' makes the gate INVALID; 'allowed_untrusted' is ok but flagged."
    )
    reasons: list[str] = Field(default_factory=list, description="Why, in words.")


class _AuditView(BaseModel):
    """The fields of an audit result that the gate check reads."""

    model_config = ConfigDict(extra="ignore")

    trusted: bool
    untrusted_reasons: list[str] = Field(default_factory=list)
    judge_names: list[str] = Field(default_factory=list)


def check_judges_for_gate(
    audit: BaseModel | dict[str, object] | None,
    *,
    metric: str,
    judges: Sequence[str] | None = None,
    allow_untrusted: bool = False,
) -> JudgeGateCheck:
    """Whether a gate on a judge-derived ``metric`` may rely on the judges.

    Args:
        audit: the :class:`~nullband.judges.audit.JudgeAudit` (model or its JSON as a
            dict) of the judges that produced the metric, or None when none was given.
        metric: the metric's name, for the messages.
        judges: the judge names the metric used; each must be covered by the audit.
        allow_untrusted: the gate config's explicit permission to rely on untrusted judges.

    Returns:
        ``invalid`` when the judges are untrusted or unaudited and not allowed;
        ``allowed_untrusted`` when allowed; ``ok`` when trusted.
    """
    problems: list[str] = []
    if audit is None:
        problems.append(f"metric {metric!r} comes from a judge that has no audit")
    else:
        data = audit.model_dump() if isinstance(audit, BaseModel) else audit
        view = _AuditView.model_validate(data)
        if not view.trusted:
            problems.append(f"the judge behind metric {metric!r} is not trusted")
            problems.extend(f"  {r}" for r in view.untrusted_reasons)
        missing = sorted(set(judges or ()) - set(view.judge_names))
        if missing:
            problems.append(
                f"metric {metric!r} used judge(s) {', '.join(missing)} that the audit does not cover"
            )
    if not problems:
        return JudgeGateCheck(decision="ok")
    if allow_untrusted:
        return JudgeGateCheck(
            decision="allowed_untrusted",
            reasons=[*problems, "allowed by the gate config (allow_untrusted_judge: true)"],
        )
    return JudgeGateCheck(
        decision="invalid",
        reasons=[
            *problems,
            "a gate that relies on an untrusted judge is INVALID; audit the judge with "
            "`nullband judge audit` or set allow_untrusted_judge: true to accept the risk",
        ],
    )
