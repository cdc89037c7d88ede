"""A panel of judges: its configuration, and how its answers become one per-case score.

One judge with repeats: the score is the mean over its readable repeats (a per-case
mean, so a comparison's interval reflects case sampling, not repeat noise). Several
judges: each judge's repeats are reduced to a majority vote, the judges' votes need
``min_agree`` behind one value for a consensus, and a split item is dropped (left
unscored and counted) when ``drop_if_split``; otherwise it gets the mean of every
readable answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from nullband.config.models import BudgetConfig, RetryConfig
from nullband.judges.pairwise import OUTCOME_SCORE, PairJudgment
from nullband.judges.vote import consensus, mode
from nullband.targets.config import TargetConfig

DEFAULT_CACHE = ".nullband/judge-cache.db"


class PanelConfig(BaseModel):
    """Which judges to ask, how often, and how their answers are combined."""

    model_config = ConfigDict(extra="forbid")

    judges: list[TargetConfig] = Field(
        min_length=1, description="Judge endpoints (e.g. different providers behind a gateway)."
    )
    repeats: int = Field(default=1, ge=1, description="Samples per judge per item.")
    temperature: float | None = Field(
        default=0.0, ge=0.0, description="Sampling temperature of judge calls (null: server's)."
    )
    min_agree: int | None = Field(
        default=None,
        ge=1,
        description="Judges that must agree for a consensus (default: a strict majority).",
    )
    drop_if_split: bool = Field(
        default=True, description="Leave an item unscored when the judges do not reach min_agree."
    )
    cache: str | None = Field(
        default=DEFAULT_CACHE, description="Judge reply cache file (null: no cache)."
    )
    concurrency: int = Field(default=8, ge=1, description="Judge calls in flight at once.")
    retries: RetryConfig = Field(default_factory=RetryConfig, description="Retry policy.")
    budget: BudgetConfig = Field(
        default_factory=BudgetConfig, description="Caps on the judges' own spend."
    )

    @model_validator(mode="after")
    def _check(self) -> PanelConfig:
        names = [j.name for j in self.judges]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"judge names must be unique; repeated: {', '.join(dup)}")
        if self.min_agree is not None and self.min_agree > len(self.judges):
            raise ValueError(
                f"min_agree={self.min_agree} is more than the {len(self.judges)} judge(s) given"
            )
        return self

    @property
    def agree_needed(self) -> int:
        """``min_agree``, or a strict majority of the judges."""
        return self.min_agree if self.min_agree is not None else len(self.judges) // 2 + 1

    def params(self) -> dict[str, Any]:
        """Sampling params sent with each judge call."""
        return {} if self.temperature is None else {"temperature": self.temperature}


PanelStatus = Literal["scored", "dropped", "unscored"]


@dataclass(frozen=True, slots=True)
class PanelOutcome:
    """One item's result from a panel.

    Attributes:
        value: the score (raw grade for rubric, 0..1 for pairwise), or None.
        status: ``scored``; ``dropped`` (judges split, ``drop_if_split``); ``unscored``
            (no readable answer).
        reason: why there is no value.
        votes: each judge's vote (None: undecided or unreadable).
        inconsistent: pairwise only: share of readable both-order pairs that disagreed.
        pairs: pairwise only: readable both-order pairs.
    """

    value: float | None
    status: PanelStatus
    reason: str | None = None
    votes: dict[str, float | str | None] = field(default_factory=dict)
    inconsistent: float | None = None
    pairs: int = 0


def _first_reason(reasons: Sequence[str | None]) -> str:
    return next((r for r in reasons if r), "no readable answer")


def reduce_grades(
    grades: Mapping[str, Sequence[float | None]],
    *,
    min_agree: int,
    drop_if_split: bool,
    reasons: Sequence[str | None] = (),
) -> PanelOutcome:
    """Reduce each judge's repeat grades (None = unreadable) to one item score."""
    valid = [g for gs in grades.values() for g in gs if g is not None]
    if not valid:
        return PanelOutcome(None, "unscored", _first_reason(reasons))
    if len(grades) == 1:
        return PanelOutcome(sum(valid) / len(valid), "scored")
    votes: dict[str, float | str | None] = {j: mode(list(gs)).value for j, gs in grades.items()}
    result = consensus([v for v in votes.values() if isinstance(v, float)], min_agree)
    if result.value is not None:
        return PanelOutcome(float(result.value), "scored", votes=votes)
    if drop_if_split:
        return PanelOutcome(None, "dropped", _split_reason(votes, min_agree), votes=votes)
    return PanelOutcome(sum(valid) / len(valid), "scored", votes=votes)


def reduce_pairs(
    pairs: Mapping[str, Sequence[PairJudgment]],
    *,
    min_agree: int,
    drop_if_split: bool,
    reasons: Sequence[str | None] = (),
) -> PanelOutcome:
    """Reduce each judge's both-order repeat judgments to one item score in 0..1."""
    readable = [p for ps in pairs.values() for p in ps if p.outcome != "error"]
    if not readable:
        return PanelOutcome(None, "unscored", _first_reason(reasons))
    inconsistent = sum(p.outcome == "inconsistent" for p in readable) / len(readable)
    scores = [s for p in readable if (s := p.score) is not None]
    mean = sum(scores) / len(scores)
    if len(pairs) == 1:
        return PanelOutcome(mean, "scored", inconsistent=inconsistent, pairs=len(readable))
    votes: dict[str, float | str | None] = {
        j: mode([p.vote for p in ps]).value for j, ps in pairs.items()
    }
    result = consensus([v for v in votes.values() if isinstance(v, str)], min_agree)
    if result.value is not None:
        return PanelOutcome(
            OUTCOME_SCORE[result.value],
            "scored",
            votes=votes,
            inconsistent=inconsistent,
            pairs=len(readable),
        )
    if drop_if_split:
        return PanelOutcome(
            None,
            "dropped",
            _split_reason(votes, min_agree),
            votes=votes,
            inconsistent=inconsistent,
            pairs=len(readable),
        )
    return PanelOutcome(mean, "scored", votes=votes, inconsistent=inconsistent, pairs=len(readable))


def _split_reason(votes: Mapping[str, float | str | None], min_agree: int) -> str:
    shown = ", ".join(
        f"{j}={'undecided/unreadable' if v is None else (f'{v:g}' if isinstance(v, float) else v)}"
        for j, v in votes.items()
    )
    return f"judges split ({shown}); {min_agree} must agree, so the item is dropped"
