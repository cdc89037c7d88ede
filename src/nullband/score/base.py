"""The scorer interface.

A scorer reads a case and a record and returns a :class:`ScoreResult`: named metric
values and an optional pass/fail verdict. The record's ``pass`` score is the AND of every
verdict given (scorers that give none are left out). A scorer never raises on a bad model
output: it returns a failed verdict with a reason.

User scorers: any object with a ``name`` attribute and a ``score(case, record)`` method
(or an async ``ascore``), referred to in the config by entry point (group
``nullband.scorers``) or dotted path ``package.module:factory``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from nullband.records import Record
from nullband.suite.case import Case


@dataclass(frozen=True, slots=True)
class ScoreResult:
    """What one scorer says about one record.

    Attributes:
        values: metric name -> value in [0, 1] (or null when it could not be scored).
        passed: the verdict, or None when this scorer gives none.
        reason: why it failed or could not score (None when it passed).
    """

    values: dict[str, float | None] = field(default_factory=dict)
    passed: bool | None = None
    reason: str | None = None


@runtime_checkable
class Scorer(Protocol):
    """A synchronous scorer."""

    name: str

    def score(self, case: Case, record: Record) -> ScoreResult:
        """Score one record of ``case``."""
        ...


@runtime_checkable
class AsyncScorer(Protocol):
    """A scorer that calls out (an LLM judge, say)."""

    name: str

    async def ascore(self, case: Case, record: Record) -> ScoreResult:
        """Score one record of ``case``."""
        ...


AnyScorer = Scorer | AsyncScorer


def merge_results(
    results: list[tuple[str, ScoreResult]],
) -> tuple[dict[str, float | None], dict[str, str]]:
    """Merge per-scorer results into a record's ``scores`` and ``score_reasons``.

    ``pass`` is 0.0 when any verdict failed; otherwise null (unscored) when a scorer could
    not score (no verdict but a reason: an unparseable judge reply, a missing gold), so a
    record never passes silently; otherwise 1.0 when every verdict given passed; absent
    when no scorer gave a verdict or a reason.
    """
    scores: dict[str, float | None] = {}
    reasons: dict[str, str] = {}
    verdicts: list[bool] = []
    unscored = False
    for name, res in results:
        scores.update(res.values)
        if res.passed is not None:
            verdicts.append(res.passed)
        elif res.reason:
            unscored = True
        if res.reason:
            reasons[name] = res.reason
    if verdicts and not all(verdicts):
        scores["pass"] = 0.0
    elif unscored:
        scores["pass"] = None
    elif verdicts:
        scores["pass"] = 1.0
    return scores, reasons
