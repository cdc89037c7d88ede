"""The judge audit result and its computation from collected judge answers.

The audit asks every judge about every item ``samples`` times (pairwise: in both
orders), bypassing the cache, and measures:

* self-consistency (flip rates), per judge;
* position bias and the both-order consistency rate, per judge (pairwise);
* agreement with human labels (kappa, weighted kappa, raw agreement against the
  majority baseline, McNemar), per judge and for the panel's consensus;
* agreement between judges (Krippendorff's alpha at three levels) and the share of
  items a ``min_agree`` consensus drops.

Agreement figures use each judge's first readable sample per item, the way a
single-sample judge scorer uses it; self-consistency says how much that sample varies.
The result, :class:`JudgeAudit`, is the machine-readable file that gates read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, cast

import numpy as np
from pydantic import BaseModel, Field

from nullband.judges.agreement import AlphaLevel, AlphaUnits, KappaWeights
from nullband.judges.call import JudgeUsage
from nullband.judges.consistency import (
    PositionBias,
    SelfConsistency,
    position_bias,
    self_consistency,
)
from nullband.judges.estimate import Boot, Estimate, bootstrap_items, missing
from nullband.judges.human import HumanAgreement, human_agreement
from nullband.judges.pairwise import Outcome, combine
from nullband.judges.parse import Verdict
from nullband.judges.trust import TrustFloors, TrustVerdict, judge_trust
from nullband.judges.vote import consensus

AUDIT_SCHEMA_VERSION = 1
AuditMode = Literal["pairwise", "rubric"]
PAIR_LABELS: list[Outcome] = ["reference", "tie", "candidate"]
_PAIR_CODE = {"reference": 0.0, "tie": 0.5, "candidate": 1.0}


class JudgeAuditEntry(BaseModel):
    """Everything measured about one judge."""

    judge: str = Field(description="The judge's target name.")
    model: str = Field(description="Its pinned model.")
    self_consistency: SelfConsistency = Field(description="Flip rates on repeated asks.")
    position: PositionBias | None = Field(
        default=None, description="Position bias (pairwise audits only)."
    )
    human: HumanAgreement | None = Field(
        default=None, description="Agreement with human labels, when labels were given."
    )
    trust: TrustVerdict = Field(description="The trust gate's verdict on this judge.")


class EnsembleAudit(BaseModel):
    """Agreement between the judges of a panel and what a consensus keeps."""

    judges: list[str] = Field(description="The panel's judges.")
    alpha: dict[str, Estimate] = Field(
        description="Krippendorff's alpha between judges: nominal, ordinal, interval."
    )
    min_agree: int = Field(description="Judges that must agree for a consensus.")
    dropped_share: Estimate = Field(description="Share of items with no consensus (dropped).")
    human: HumanAgreement | None = Field(
        default=None, description="The consensus labels against human labels (kept items)."
    )
    trust: TrustVerdict = Field(description="The trust gate's verdict on the panel.")


class JudgeAudit(BaseModel):
    """The result of ``nullband judge audit``: what gates read to decide trust."""

    schema_version: int = Field(default=AUDIT_SCHEMA_VERSION, description="Audit schema version.")
    kind: Literal["judge_audit"] = Field(default="judge_audit", description="Record kind.")
    created_at: datetime = Field(
        default_factory=lambda: datetime.now(UTC), description="UTC time of the audit."
    )
    mode: AuditMode = Field(description="'pairwise' (A/B/tie) or 'rubric' (pointwise grades).")
    items: int = Field(description="Items audited.")
    samples: int = Field(description="Asks per item per judge (per order, for pairwise).")
    temperature: float | None = Field(description="Temperature of the judge calls.")
    seed: int = Field(description="Seed of every bootstrap interval.")
    resamples: int = Field(description="Bootstrap resamples per interval.")
    level: float = Field(description="Confidence level of the intervals.")
    floors: TrustFloors = Field(description="The trust floors applied.")
    judge_names: list[str] = Field(description="Judges covered by this audit.")
    judges: list[JudgeAuditEntry] = Field(description="Per-judge results.")
    ensemble: EnsembleAudit | None = Field(
        default=None, description="Panel results (two or more judges)."
    )
    trusted: bool = Field(description="Whether gates may rely on this judge (or panel).")
    untrusted_reasons: list[str] = Field(
        default_factory=list, description="Why not trusted, in words."
    )
    usage: list[JudgeUsage] = Field(default_factory=list, description="Calls, tokens, cost.")
    config_hash: str | None = Field(default=None, description="Hash of the audit config.")


@dataclass(slots=True)
class JudgeAnswers:
    """What one judge answered, per item and sample.

    Attributes:
        name: the judge's name.
        model: its pinned model.
        forward: pairwise: ``forward[item][k]`` positional verdict, candidate shown first.
        swapped: pairwise: candidate shown second.
        grades: rubric: ``grades[item][k]``.
    """

    name: str
    model: str
    forward: list[list[Verdict | None]] | None = None
    swapped: list[list[Verdict | None]] | None = None
    grades: list[list[float | None]] | None = None

    def labels(self) -> list[Outcome | float | None]:
        """The judge's first readable label per item (pairwise: inconsistent counts as tie)."""
        out: list[Outcome | float | None] = []
        if self.grades is not None:
            for gs in self.grades:
                out.append(next((g for g in gs if g is not None), None))
            return out
        assert self.forward is not None
        assert self.swapped is not None
        for fw, sw in zip(self.forward, self.swapped, strict=True):
            votes = (combine(a, b).vote for a, b in zip(fw, sw, strict=True))
            out.append(next((v for v in votes if v is not None), None))
        return out


@dataclass(frozen=True, slots=True)
class AuditSettings:
    """How the audit computes and gates (see ``AuditConfig`` for the YAML fields)."""

    mode: AuditMode
    samples: int
    temperature: float | None
    floors: TrustFloors
    flip_threshold: float = 0.2
    kappa_weights: KappaWeights = "none"
    scale_min: float = 1
    scale_max: float = 5
    positive_above: float | None = None
    min_agree: int | None = None
    resamples: int = 2000
    seed: int = 0
    level: float = 0.95


def _human_stats(
    settings: AuditSettings,
    judge_labels: Sequence[Outcome | float | None],
    human: Sequence[Outcome | float | None],
) -> HumanAgreement:
    pairs = [
        (j, h) for j, h in zip(judge_labels, human, strict=True) if j is not None and h is not None
    ]
    boot = Boot(settings.resamples, settings.seed, settings.level)
    if settings.mode == "pairwise":
        return human_agreement(
            [p[0] for p in pairs],
            [p[1] for p in pairs],
            categories=PAIR_LABELS,
            ordinal=False,
            gate_weights="none",
            positive=["candidate"],
            positive_name="candidate preferred",
            boot=boot,
        )
    grades = sorted(
        {float(g) for g in np.arange(settings.scale_min, settings.scale_max + 1)}
        | {float(v) for p in pairs for v in p}
    )
    cut = (
        settings.positive_above
        if settings.positive_above is not None
        else (settings.scale_min + settings.scale_max) / 2
    )
    return human_agreement(
        [float(p[0]) for p in pairs],
        [float(p[1]) for p in pairs],
        categories=grades,
        ordinal=True,
        gate_weights=settings.kappa_weights,
        positive=[g for g in grades if g > cut],
        positive_name=f"grade > {cut:g}",
        boot=boot,
    )


def compute_audit(
    settings: AuditSettings,
    item_ids: Sequence[str],
    answers: Sequence[JudgeAnswers],
    human: Sequence[Outcome | float | None] | None,
    usage: Sequence[JudgeUsage] = (),
    config_hash: str | None = None,
) -> JudgeAudit:
    """Compute every audit figure from the judges' collected answers.

    Args:
        settings: what to compute and the trust floors.
        item_ids: item ids, in the order of the answer lists.
        answers: one :class:`JudgeAnswers` per judge.
        human: the human label per item (None where missing), or None for no labels.
        usage: per-judge usage to attach.
        config_hash: hash of the config that produced the run.
    """
    boot = Boot(settings.resamples, settings.seed, settings.level)
    pairwise = settings.mode == "pairwise"
    entries: list[JudgeAuditEntry] = []
    for ans in answers:
        if pairwise:
            assert ans.forward is not None
            assert ans.swapped is not None
            runs: list[list[list[object]]] = [
                [list(f), list(s)] for f, s in zip(ans.forward, ans.swapped, strict=True)
            ]
            pos = position_bias(ans.forward, ans.swapped, boot=boot)
        else:
            assert ans.grades is not None
            runs = [[list(g)] for g in ans.grades]
            pos = None
        sc = self_consistency(
            item_ids,
            runs,
            threshold=settings.flip_threshold,
            boot=boot,
        )
        hum = _human_stats(settings, ans.labels(), human) if human is not None else None
        verdict = judge_trust(
            settings.floors,
            kappa=hum.gate_kappa() if hum is not None else None,
            self_consistency=sc.self_consistency,
            position_consistency=pos.consistency if pos is not None else None,
            pairwise=pairwise,
        )
        entries.append(
            JudgeAuditEntry(
                judge=ans.name,
                model=ans.model,
                self_consistency=sc,
                position=pos,
                human=hum,
                trust=verdict,
            )
        )
    ensemble = _ensemble(settings, answers, entries, human, boot) if len(answers) > 1 else None
    if ensemble is not None:
        trusted = ensemble.trust.trusted
        reasons = [f"panel: {r}" for r in ensemble.trust.reasons]
    else:
        trusted = entries[0].trust.trusted if entries else False
        reasons = (
            [f"{entries[0].judge}: {r}" for r in entries[0].trust.reasons]
            if entries
            else ["no judge was audited"]
        )
    return JudgeAudit(
        mode=settings.mode,
        items=len(item_ids),
        samples=settings.samples,
        temperature=settings.temperature,
        seed=settings.seed,
        resamples=settings.resamples,
        level=settings.level,
        floors=settings.floors,
        judge_names=[a.name for a in answers],
        judges=entries,
        ensemble=ensemble,
        trusted=trusted,
        untrusted_reasons=reasons,
        usage=list(usage),
        config_hash=config_hash,
    )


def _alpha_estimate(units: AlphaUnits, level: AlphaLevel, n: int, boot: Boot) -> Estimate:
    return bootstrap_items(lambda idx: units.alpha(idx, level), n, boot, what=f"{level} alpha")


def _ensemble(
    settings: AuditSettings,
    answers: Sequence[JudgeAnswers],
    entries: Sequence[JudgeAuditEntry],
    human: Sequence[Outcome | float | None] | None,
    boot: Boot,
) -> EnsembleAudit:
    labels = [a.labels() for a in answers]
    n = len(labels[0])
    codes = [
        [None if v is None else (_PAIR_CODE[v] if isinstance(v, str) else float(v)) for v in row]
        for row in labels
    ]
    units = AlphaUnits.build(codes)
    alpha: dict[str, Estimate] = {}
    levels: tuple[AlphaLevel, ...] = ("nominal", "ordinal", "interval")
    for level in levels:
        alpha[level] = _alpha_estimate(units, level, n, boot)
    need = settings.min_agree or len(answers) // 2 + 1
    consensus_labels: list[Outcome | float | None] = []
    dropped = np.zeros(n)
    for i in range(n):
        res = consensus([row[i] for row in labels], need)
        consensus_labels.append(cast("Outcome | float | None", res.value))
        dropped[i] = res.value is None
    dropped_share = bootstrap_items(
        lambda idx: float(dropped[idx].mean()), n, boot, what="dropped share"
    )
    hum = _human_stats(settings, consensus_labels, human) if human is not None else None
    # The panel is trusted when its consensus agrees with humans and at least min_agree
    # of its judges are individually consistent (kappa of single judges is not required).
    consistent_floors = settings.floors.model_copy(update={"min_kappa": None})
    consistent = [
        e.judge
        for e in entries
        if judge_trust(
            consistent_floors,
            kappa=None,
            self_consistency=e.self_consistency.self_consistency,
            position_consistency=e.position.consistency if e.position is not None else None,
            pairwise=settings.mode == "pairwise",
        ).trusted
    ]
    verdict = judge_trust(
        settings.floors.model_copy(
            update={"min_self_consistency": None, "min_position_consistency": None}
        ),
        kappa=hum.gate_kappa() if hum is not None else None,
        self_consistency=None,
        position_consistency=None,
        pairwise=False,
    )
    if len(consistent) < need:
        verdict = TrustVerdict(
            trusted=False,
            reasons=[
                *verdict.reasons,
                f"only {len(consistent)} judge(s) reach the consistency floors "
                f"({', '.join(consistent) or 'none'}); {need} needed",
            ],
            checked=verdict.checked,
        )
    return EnsembleAudit(
        judges=[a.name for a in answers],
        alpha=alpha,
        min_agree=need,
        dropped_share=dropped_share if n else missing(0, "no items"),
        human=hum,
        trust=verdict,
    )
