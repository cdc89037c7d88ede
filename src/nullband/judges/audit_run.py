"""Running a judge audit: the YAML config, asking the judges, computing the result.

Every audit call bypasses the judge cache: asking the same thing again is the
measurement. Calls go through ``TargetClient`` (retries on the same model, rate limits)
and charge the audit's budget, so a cap stops an audit that would cost too much.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from functools import partial
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from nullband._canonical import content_hash
from nullband.errors import InputError
from nullband.judges.agreement import KappaWeights
from nullband.judges.audit import AuditSettings, JudgeAnswers, JudgeAudit, compute_audit
from nullband.judges.call import Judge
from nullband.judges.engine import (
    GradeCall,
    PairTask,
    RubricTask,
    grade_once,
    run_bounded,
    verdict_once,
)
from nullband.judges.items import AuditItem, HumanLabel, load_human_labels, load_items, parse_label
from nullband.judges.panel import PanelConfig
from nullband.judges.parse import Verdict
from nullband.judges.prompts import (
    DEFAULT_RUBRIC,
    PAIRWISE_SYSTEM,
    PAIRWISE_TEMPLATE,
    RUBRIC_SYSTEM,
    RUBRIC_TEMPLATE,
)
from nullband.judges.transport import open_judges, panel_budget
from nullband.judges.trust import TrustFloors
from nullband.targets.budget import Budget

AUDIT_CONFIG_SCHEMA_VERSION = 1


class BootstrapConfig(BaseModel):
    """Intervals: percentile bootstrap over items."""

    model_config = ConfigDict(extra="forbid")

    resamples: int = Field(default=2000, ge=100, description="Bootstrap resamples.")
    seed: int = Field(default=0, description="Seed (stored in the audit result).")
    level: float = Field(default=0.95, gt=0.5, lt=1.0, description="Confidence level.")


class AuditConfig(PanelConfig):
    """``nullband judge audit`` config (YAML): the judges, the items, and the floors."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = Field(
        default=AUDIT_CONFIG_SCHEMA_VERSION, description="Audit config schema version."
    )
    mode: Literal["pairwise", "rubric"] = Field(description="Pairwise (A/B/tie) or rubric.")
    items: str = Field(description="JSONL of audit items, relative to the config file.")
    human_labels: str | None = Field(
        default=None, description="JSONL or CSV of human labels (else the items' 'human')."
    )
    samples: int = Field(
        default=5, ge=1, description="Asks per item per judge (per order, for pairwise)."
    )
    rubric: str = Field(default=DEFAULT_RUBRIC, description="What the judge is told to value.")
    scale_min: float = Field(default=1, description="Rubric: lowest grade.")
    scale_max: float = Field(default=5, description="Rubric: highest grade.")
    labels: dict[str, float] = Field(default_factory=dict, description="Rubric: word grades.")
    system: str | None = Field(default=None, description="Judge system prompt override.")
    template: str | None = Field(default=None, description="Judge prompt template override.")
    flip_threshold: float = Field(
        default=0.2, ge=0.0, le=1.0, description="List items whose flip rate exceeds this."
    )
    kappa_weights: KappaWeights = Field(
        default="quadratic", description="Rubric: which kappa the trust gate reads."
    )
    positive_above: float | None = Field(
        default=None, description="Rubric McNemar: grades above this are 'positive' (default mid)."
    )
    trust: TrustFloors = Field(default_factory=TrustFloors, description="Trust floors.")
    bootstrap: BootstrapConfig = Field(
        default_factory=BootstrapConfig, description="Interval settings."
    )

    @model_validator(mode="after")
    def _audit_fields(self) -> AuditConfig:
        if self.repeats != 1:
            raise ValueError("an audit asks each item 'samples' times; 'repeats' is for scorers")
        if self.scale_max <= self.scale_min:
            raise ValueError(
                f"scale_max {self.scale_max:g} must exceed scale_min {self.scale_min:g}"
            )
        return self


def settings_of(config: AuditConfig) -> AuditSettings:
    """The computation settings of a config."""
    return AuditSettings(
        mode=config.mode,
        samples=config.samples,
        temperature=config.temperature,
        floors=config.trust,
        flip_threshold=config.flip_threshold,
        kappa_weights=config.kappa_weights if config.mode == "rubric" else "none",
        scale_min=config.scale_min,
        scale_max=config.scale_max,
        positive_above=config.positive_above,
        min_agree=config.min_agree,
        resamples=config.bootstrap.resamples,
        seed=config.bootstrap.seed,
        level=config.bootstrap.level,
    )


def human_labels_of(
    config: AuditConfig, items: list[AuditItem], base_dir: Path
) -> list[HumanLabel | None] | None:
    """Human label per item (from the labels file, else the items), or None if none at all."""
    if config.human_labels is not None:
        path = base_dir / config.human_labels
        table = load_human_labels(path, config.mode)
        unknown = sorted(set(table) - {i.id for i in items})
        if unknown:
            raise InputError(
                f"{len(unknown)} labelled id(s) are not audit items, e.g. {unknown[0]!r}",
                path=path,
            )
        return [table.get(i.id) for i in items]
    if all(i.human is None for i in items):
        return None
    items_path = base_dir / config.items
    return [
        None if i.human is None else parse_label(i.human, config.mode, path=items_path, line=None)
        for i in items
    ]


async def collect_answers(
    config: AuditConfig, items: list[AuditItem], judges: list[Judge]
) -> list[JudgeAnswers]:
    """Ask every judge about every item ``samples`` times (both orders for pairwise)."""
    k_range = range(config.samples)
    factories: list[Callable[[], Awaitable[object]]] = []
    for j in judges:
        for item in items:
            for k in k_range:
                if config.mode == "pairwise":
                    task = _pair_task(config, item)
                    for first, tag in ((True, "fwd"), (False, "swp")):
                        factories.append(
                            partial(
                                verdict_once,
                                j,
                                task,
                                candidate_first=first,
                                sample=k,
                                use_cache=False,
                                case_key=f"audit-{item.id}/{j.name}/{tag}/{k}",
                            )
                        )
                else:
                    factories.append(
                        partial(
                            grade_once,
                            j,
                            _rubric_task(config, item),
                            sample=k,
                            use_cache=False,
                            case_key=f"audit-{item.id}/{j.name}/grade/{k}",
                        )
                    )
    results = iter(await run_bounded(factories, config.concurrency))
    answers: list[JudgeAnswers] = []
    for j in judges:
        if config.mode == "pairwise":
            fwd: list[list[Verdict | None]] = []
            swp: list[list[Verdict | None]] = []
            for _ in items:
                f_row: list[Verdict | None] = []
                s_row: list[Verdict | None] = []
                for _ in k_range:
                    f_row.append(next(results)[0])  # type: ignore[index]
                    s_row.append(next(results)[0])  # type: ignore[index]
                fwd.append(f_row)
                swp.append(s_row)
            answers.append(JudgeAnswers(j.name, j.model, forward=fwd, swapped=swp))
        else:
            grades: list[list[float | None]] = []
            for _ in items:
                row: list[float | None] = []
                for _ in k_range:
                    call = next(results)
                    assert isinstance(call, GradeCall)
                    row.append(call.grade)
                grades.append(row)
            answers.append(JudgeAnswers(j.name, j.model, grades=grades))
    return answers


def _pair_task(config: AuditConfig, item: AuditItem) -> PairTask:
    assert item.candidate is not None
    assert item.reference is not None
    return PairTask(
        question=item.question(),
        candidate=item.candidate,
        reference=item.reference,
        rubric=config.rubric,
        template=config.template or PAIRWISE_TEMPLATE,
        system=config.system if config.system is not None else PAIRWISE_SYSTEM,
    )


def _rubric_task(config: AuditConfig, item: AuditItem) -> RubricTask:
    assert item.answer is not None
    return RubricTask(
        question=item.question(),
        answer=item.answer,
        reference=item.reference,
        rubric=config.rubric,
        scale_min=config.scale_min,
        scale_max=config.scale_max,
        labels=tuple(config.labels.items()),
        template=config.template or RUBRIC_TEMPLATE,
        system=config.system if config.system is not None else RUBRIC_SYSTEM,
    )


async def run_audit(
    config: AuditConfig, *, base_dir: str | Path = ".", budget: Budget | None = None
) -> JudgeAudit:
    """Run an audit end to end and return its result.

    Args:
        config: the audit config.
        base_dir: folder that the config's relative paths start from.
        budget: a budget to charge (default: the config's own caps).

    Raises:
        InputError: unreadable items or labels.
        BudgetExceeded: a cap was reached before the audit finished.
    """
    base = Path(base_dir)
    items = load_items(base / config.items, config.mode)
    human = human_labels_of(config, items, base)
    async with AsyncExitStack() as stack:
        judges = await open_judges(
            config, stack, budget=panel_budget(config, budget), cache=None, seed=0
        )
        answers = await collect_answers(config, items, judges)
    return compute_audit(
        settings_of(config),
        [i.id for i in items],
        answers,
        human,
        usage=[j.usage for j in judges],
        config_hash=content_hash(config.model_dump(mode="json")),
    )
