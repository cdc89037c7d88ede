"""The gate config (YAML): rules and validity checks. See docs/gates.md and examples/gates/."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from nullband.config import load_yaml_model
from nullband.config.yamlfile import _line_of, parse_yaml
from nullband.errors import ConfigError

GATE_SCHEMA_VERSION = 1


def _fraction(v: float, what: str) -> float:
    if v >= 1:
        raise ValueError(f"{what} is a fraction of 1, not points: 1 point is 0.01 (got {v})")
    return v


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, description="A name for reports (default: the kind).")


class SuperiorityRule(_Rule):
    """PASS when the delta's lower limit exceeds ``min_effect``."""

    kind: Literal["superiority"] = Field(description="Rule kind.")
    scope: Literal["overall", "weighted"] = Field(
        default="overall", description="All cases, or the weighted slices (needs `weights`)."
    )
    min_effect: float = Field(default=0.0, ge=0, description="Required improvement (fraction).")

    _min = field_validator("min_effect")(lambda cls, v: _fraction(v, "min_effect"))


class NonInferiorityRule(_Rule):
    """PASS when the delta's lower limit exceeds -margin."""

    kind: Literal["non_inferiority"] = Field(description="Rule kind.")
    scope: Literal["overall", "weighted"] = Field(default="overall", description="As above.")
    margin: float = Field(gt=0, description="Allowed loss as a fraction (0.01 = 1 point).")

    _m = field_validator("margin")(lambda cls, v: _fraction(v, "margin"))


class FloorRule(_Rule):
    """The candidate's rate (overall, or in every segment of ``by``) is at least ``floor``."""

    kind: Literal["floor"] = Field(description="Rule kind.")
    floor: float = Field(ge=0, le=1, description="Minimum rate, e.g. 0.85.")
    by: str | None = Field(default=None, description="Segment dimension; null = overall.")
    side: Literal["candidate", "baseline"] = Field(default="candidate", description="Which side.")
    min_cases: int | None = Field(default=None, ge=1, description="Override the gate's min_cases.")
    basis: Literal["point", "confident"] = Field(
        default="point",
        description="'point': FAIL when the observed rate is below the floor; 'confident': FAIL "
        "only when it is below with the stated confidence (one-sided test, Holm), else "
        "INCONCLUSIVE.",
    )


class WorstSegmentRule(_Rule):
    """No segment of ``by`` (with >= min_cases) regresses by more than ``margin``, after Holm."""

    kind: Literal["worst_segment"] = Field(description="Rule kind.")
    by: str = Field(description="Segment dimension, e.g. 'customer' or 'adapter'.")
    margin: float = Field(default=0.0, ge=0, description="Allowed loss per segment (fraction).")
    min_cases: int | None = Field(default=None, ge=1, description="Override the gate's min_cases.")
    require_noninferiority: bool = Field(
        default=False,
        description="Also require each gated segment's lower limit above -margin "
        "(INCONCLUSIVE otherwise); by default only confirmed regressions fail.",
    )

    _m = field_validator("margin")(lambda cls, v: _fraction(v, "margin"))


Rule = Annotated[
    SuperiorityRule | NonInferiorityRule | FloorRule | WorstSegmentRule,
    Field(discriminator="kind"),
]


class PinnedModels(BaseModel):
    """Pinned model strings per side (default: each row's own requested model)."""

    model_config = ConfigDict(extra="forbid")

    baseline: str | None = Field(default=None, description="Pinned baseline model.")
    candidate: str | None = Field(default=None, description="Pinned candidate model.")


class ProvenancePolicy(BaseModel):
    """When provenance makes a comparison INVALID."""

    model_config = ConfigDict(extra="forbid")

    require_pinned: bool = Field(
        default=True, description="Every served model must be the requested (pinned) one."
    )
    one_model_per_side: bool = Field(
        default=True, description="Each side must be served by a single model."
    )
    same_on_both_sides: bool = Field(
        default=False,
        description="Each case must be served by the same model on both sides (serving changes, "
        "LoRA parity).",
    )
    require_known: bool = Field(
        default=False, description="Rows without a served model make the comparison INVALID."
    )
    pinned: PinnedModels | None = Field(default=None, description="Explicit pins per side.")


class JudgePolicy(BaseModel):
    """Metrics produced by LLM judges: a gate on them needs a trusted judge audit."""

    model_config = ConfigDict(extra="forbid")

    metrics: list[str] = Field(default_factory=list, description="Judge-derived metric names.")
    judges: list[str] = Field(default_factory=list, description="Judge names the audit must cover.")
    allow_untrusted_judge: bool = Field(
        default=False, description="Accept an untrusted or unaudited judge (flagged)."
    )


class GateConfig(BaseModel):
    """A release gate: validity checks plus one or more rules."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = Field(default=1, description="Gate config schema version.")
    name: str | None = Field(default=None, description="Gate name for reports.")
    description: str | None = Field(default=None, description="What the gate is for.")
    metric: str | None = Field(default=None, description="Metric to gate (default: --metric).")
    confidence: float | None = Field(
        default=None, gt=0, lt=1, description="Confidence level (default: --confidence)."
    )
    min_cases: int = Field(default=20, ge=1, description="Segments below this are not gated.")
    max_epoch_spread: float | None = Field(
        default=0.01,
        ge=0,
        description="Largest allowed spread of per-epoch rates (0.01 = 1 point, meant for "
        "temperature 0); null disables the check.",
    )
    allow_hash_mismatch: bool = Field(
        default=False, description="Allow cases whose content differs between sides."
    )
    weights: dict[str, float] | None = Field(
        default=None,
        description="Slice multipliers for 'weighted' rules: {'adversarial': 3} or {'dim=value': 2}.",
    )
    provenance: ProvenancePolicy = Field(
        default_factory=ProvenancePolicy, description="Provenance checks."
    )
    judge: JudgePolicy = Field(default_factory=JudgePolicy, description="Judge trust checks.")
    rules: list[Rule] = Field(min_length=1, description="The rules; all must hold to PASS.")

    @model_validator(mode="after")
    def _weighted_needs_weights(self) -> GateConfig:
        for r in self.rules:
            if getattr(r, "scope", "overall") == "weighted" and not self.weights:
                raise ValueError("a rule with scope 'weighted' needs `weights` in the gate")
        return self

    def dimensions(self) -> list[str]:
        """Segment dimensions the rules need."""
        dims = [r.by for r in self.rules if isinstance(r, FloorRule | WorstSegmentRule) and r.by]
        return list(dict.fromkeys(dims))


_KINDS = {"superiority", "non_inferiority", "floor", "worst_segment"}


def load_gate(path: str | Path) -> GateConfig:
    """Read a gate config; errors name the file, line and field.

    Goes through :func:`nullband.config.load_yaml_model`; a rule error is re-located without
    pydantic's union tag (``rules.0.non_inferiority.margin`` -> ``rules.0.margin``) so the
    line number points at the field itself.

    Raises:
        ConfigError: missing file, bad YAML, or a config that does not fit.
    """
    try:
        return load_yaml_model(path, GateConfig)
    except ConfigError as exc:
        if not exc.field or not any(part in _KINDS for part in exc.field.split(".")):
            raise
        p = Path(path)
        data, node = parse_yaml(p.read_text(encoding="utf-8"), p)
        try:
            GateConfig.model_validate(data)
        except ValidationError as verr:
            err = verr.errors()[0]
            loc = tuple(x for x in err["loc"] if x not in _KINDS)
            msg = err["msg"].removeprefix("Value error, ")
            raise ConfigError(
                msg, path=p, line=_line_of(node, loc), field=".".join(str(x) for x in loc)
            ) from None
        raise
