"""LLM-judge scorers: ``judge_rubric`` (pointwise grade) and ``judge_pairwise`` (A, B or
tie against a reference output, judged in both orders).

Both take a panel of one or more judge targets (``judge:`` or ``judges:``), ``repeats``
per judge at a ``temperature``, and for several judges ``min_agree`` and
``drop_if_split``. The score is a per-case value in 0..1 (repeats averaged, or the
panel's consensus), so comparisons resample cases, not judge noise. A reply with no
readable grade, a failed judge call, or a split panel leaves the case *unscored* (value
null) with the reason; it never passes silently.

Config example::

    scorers:
      - name: judge_pairwise
        options:
          judges:
            - {name: j-gpt, base_url: http://gw/v1, model: openai/gpt-4o-2024-11-20}
            - {name: j-claude, base_url: http://gw/v1, model: anthropic/claude-sonnet-4-6}
            - {name: j-gemini, base_url: http://gw/v1, model: google/gemini-2.5-pro}
          min_agree: 2
          reference_from: metadata.production_output
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from nullband.errors import ScorerError
from nullband.judges.cache import JudgeCache
from nullband.judges.call import Judge, JudgeUsage
from nullband.judges.engine import (
    PairTask,
    RubricTask,
    grade_once,
    judge_pair,
    run_bounded,
)
from nullband.judges.panel import (
    PanelConfig,
    PanelOutcome,
    reduce_grades,
    reduce_pairs,
)
from nullband.judges.prompts import (
    DEFAULT_RUBRIC,
    PAIRWISE_SYSTEM,
    PAIRWISE_TEMPLATE,
    RUBRIC_SYSTEM,
    RUBRIC_TEMPLATE,
    render_question,
)
from nullband.judges.transport import open_judges, panel_budget
from nullband.records import Record
from nullband.score.base import ScoreResult
from nullband.score.registry import register_builtin
from nullband.suite.case import Case
from nullband.targets.budget import Budget, BudgetExceeded

T = TypeVar("T")


class _JudgeOptions(PanelConfig):
    """Options shared by the judge scorers (the panel's fields plus these)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, description="Metric name (default: the scorer's).")
    rubric: str = Field(default=DEFAULT_RUBRIC, description="What the judge is told to value.")
    reference_from: str | None = Field(
        default="expected",
        description="Where the reference answer is: 'expected', 'metadata.KEY', or null.",
    )
    system: str | None = Field(default=None, description="Judge system prompt override.")
    template: str | None = Field(default=None, description="Judge prompt template override.")
    pass_min: float | None = Field(
        default=None, description="Verdict: pass when the score (0..1) is at least this."
    )
    ledger: str | None = Field(
        default="cache",
        description="File where judge usage per run is kept (`nullband judge summary`): "
        "'cache' (the cache file; none when the cache is off), a path, or null for none.",
    )

    @model_validator(mode="before")
    @classmethod
    def _one_judge(cls, data: Any) -> Any:
        if isinstance(data, dict) and "judge" in data:
            data = dict(data)
            if "judges" in data:
                raise ValueError("give 'judge' (one) or 'judges' (a list), not both")
            data["judges"] = [data.pop("judge")]
        return data


class RubricOptions(_JudgeOptions):
    """Options of ``judge_rubric``."""

    scale_min: float = Field(default=1, description="Lowest grade.")
    scale_max: float = Field(default=5, description="Highest grade.")
    labels: dict[str, float] = Field(
        default_factory=dict, description="Word grades, e.g. {'C': 1, 'I': 0}."
    )
    pass_grade: float | None = Field(
        default=None, description="Verdict: pass when the grade is at least this."
    )


class PairwiseOptions(_JudgeOptions):
    """Options of ``judge_pairwise``."""


class JudgeScorerReport(BaseModel):
    """What a judge scorer did over a run."""

    scorer: str = Field(description="Metric name.")
    records: int = Field(default=0, description="Records scored or attempted.")
    scored: int = Field(default=0, description="Records that got a value.")
    unscored: int = Field(default=0, description="Records left unscored (unreadable/failed).")
    dropped: int = Field(default=0, description="Records dropped because the judges split.")
    pairs: int = Field(default=0, description="Pairwise: both-order pairs read.")
    inconsistent_pairs: int = Field(default=0, description="Pairwise: pairs whose orders disagree.")
    usage: list[JudgeUsage] = Field(default_factory=list, description="Per judge.")

    @property
    def dropped_share(self) -> float | None:
        """Dropped records over records (None before any)."""
        return self.dropped / self.records if self.records else None


def _reference(case: Case, where: str | None) -> str | None:
    if where is None:
        return None
    if where == "expected":
        value: Any = case.expected
    elif where.startswith("metadata."):
        value = case.metadata.get(where.removeprefix("metadata."))
    else:
        raise ScorerError(f"reference_from {where!r}: use 'expected', 'metadata.KEY' or null")
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


class _JudgeScorer:
    """Shared machinery: lazily opened judge clients, the cache, the budget, the report."""

    default_name = "judge"

    def __init__(self, options: _JudgeOptions) -> None:
        self.options = options
        self.name = options.name or self.default_name
        self.report = JudgeScorerReport(scorer=self.name)
        self._budget: Budget | None = None
        self._own_budget = panel_budget(options, None)
        self._usage = {t.name: JudgeUsage(judge=t.name, model=t.model) for t in options.judges}
        self.report.usage = list(self._usage.values())
        self._stack: AsyncExitStack | None = None
        self._judges: list[Judge] | None = None
        self._cache: JudgeCache | None = None
        self._ledger: JudgeCache | None = None
        self._active = 0
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None

    def bind_budget(self, budget: Budget | None) -> None:
        """Charge judge calls to ``budget`` (the run's) instead of the panel's own caps."""
        self._budget = budget

    def _loop_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:
            self._lock, self._lock_loop = asyncio.Lock(), loop
        return self._lock

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[list[Judge]]:
        """The open judges for one ``ascore``.

        Clients open on first use and close when no ``ascore`` is in flight any more, so
        a run that never calls :meth:`aclose` leaves no HTTP session open; while records
        are scored concurrently the clients (their connection pools, concurrency and
        rate limits) are shared.
        """
        async with self._loop_lock():
            if self._judges is None:
                self._open_files()
                stack = AsyncExitStack()
                self._judges = await open_judges(
                    self.options,
                    stack,
                    budget=self._budget or self._own_budget,
                    cache=self._cache,
                    usage=self._usage,
                    ledger=self._ledger,
                )
                self._stack = stack
            self._active += 1
            judges = self._judges
        try:
            yield judges
        finally:
            async with self._loop_lock():
                self._active -= 1
                if self._active == 0:
                    await self._close_clients()

    def _open_files(self) -> None:
        o = self.options
        if o.cache is not None and self._cache is None:
            self._cache = JudgeCache(o.cache)
        if self._ledger is not None or o.ledger is None:
            return
        if o.ledger == "cache" or (
            o.cache is not None and Path(o.ledger).resolve() == Path(o.cache).resolve()
        ):
            self._ledger = self._cache
        else:
            self._ledger = JudgeCache(o.ledger)

    async def _close_clients(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
        self._stack = None
        self._judges = None

    async def aclose(self) -> None:
        """Close the judge clients and the cache (optional: both close when idle)."""
        await self._close_clients()
        for f in {id(x): x for x in (self._cache, self._ledger) if x is not None}.values():
            f.close()
        self._cache = None
        self._ledger = None

    async def _ask_panel(
        self,
        ask: Callable[..., Awaitable[T]],
        task: Any,
        case: Case,
        record: Record,
        concurrency: int,
    ) -> tuple[list[Judge], dict[str, list[T]]]:
        """Ask every judge ``repeats`` times; the calls grouped by judge, in order.

        Raises:
            BudgetExceeded: the budget refused a judge call.
        """
        repeats = self.options.repeats
        async with self._session() as judges:
            calls = await run_bounded(
                [
                    partial(
                        ask,
                        j,
                        task,
                        sample=k,
                        case_key=_key(case, record, j, k),
                        run_id=record.run_id,
                    )
                    for j in judges
                    for k in range(repeats)
                ],
                concurrency,
            )
        it = iter(calls)
        return judges, {j.name: [next(it) for _ in range(repeats)] for j in judges}

    def _finish(self, outcome: PanelOutcome, values: dict[str, float | None]) -> ScoreResult:
        self.report.records += 1
        if outcome.status == "scored":
            self.report.scored += 1
        elif outcome.status == "dropped":
            self.report.dropped += 1
        else:
            self.report.unscored += 1
        values = {self.name: None, **values}  # an unscored record still names its metric
        value = values[self.name]
        if value is None:
            return ScoreResult(values=values, passed=None, reason=outcome.reason)
        passed = None if self.options.pass_min is None else value >= self.options.pass_min
        reason = None if passed in (None, True) else f"score {value:.3f} < {self.options.pass_min}"
        return ScoreResult(values=values, passed=passed, reason=reason)


class RubricJudgeScorer(_JudgeScorer):
    """LLM judge: a pointwise grade against a rubric, normalised to 0..1."""

    default_name = "judge_rubric"

    def __init__(self, **options: Any) -> None:
        try:
            opts = RubricOptions.model_validate(options)
        except ValidationError as exc:
            raise ScorerError(f"judge_rubric: bad options: {exc.errors()[0]['msg']}") from None
        super().__init__(opts)
        self.opts = opts

    async def ascore(self, case: Case, record: Record) -> ScoreResult:
        """Grade ``record``'s output; unscored (with the reason) when no grade is readable."""
        o = self.opts
        if record.output_text is None:
            return self._finish(
                PanelOutcome(None, "unscored", "the record has no output text to grade"), {}
            )
        task = RubricTask(
            question=render_question(case.messages()),
            answer=record.output_text,
            reference=_reference(case, o.reference_from),
            rubric=o.rubric,
            scale_min=o.scale_min,
            scale_max=o.scale_max,
            labels=tuple(o.labels.items()),
            template=o.template or RUBRIC_TEMPLATE,
            system=o.system if o.system is not None else RUBRIC_SYSTEM,
        )
        try:
            judges, by_judge = await self._ask_panel(grade_once, task, case, record, o.concurrency)
        except BudgetExceeded as exc:
            return self._finish(PanelOutcome(None, "unscored", f"judge not asked: {exc}"), {})
        grades: dict[str, list[float | None]] = {
            j.name: [c.grade for c in by_judge[j.name]] for j in judges
        }
        reasons: list[str | None] = [c.reason for j in judges for c in by_judge[j.name]]
        outcome = reduce_grades(
            grades, min_agree=o.agree_needed, drop_if_split=o.drop_if_split, reasons=reasons
        )
        if outcome.value is None:
            return self._finish(outcome, {self.name: None})
        span = o.scale_max - o.scale_min
        norm = (outcome.value - o.scale_min) / span if span else 1.0
        values: dict[str, float | None] = {self.name: norm, f"{self.name}_grade": outcome.value}
        result = self._finish(outcome, values)
        if o.pass_grade is not None:
            ok = outcome.value >= o.pass_grade
            why = None if ok else f"grade {outcome.value:g} < {o.pass_grade:g}"
            return ScoreResult(values=values, passed=ok, reason=why)
        return result


class PairwiseJudgeScorer(_JudgeScorer):
    """LLM judge: the output against a reference, in both orders; 1 win, 0.5 tie, 0 loss."""

    default_name = "judge_pairwise"

    def __init__(self, **options: Any) -> None:
        try:
            opts = PairwiseOptions.model_validate(options)
        except ValidationError as exc:
            raise ScorerError(f"judge_pairwise: bad options: {exc.errors()[0]['msg']}") from None
        super().__init__(opts)
        self.opts = opts

    async def ascore(self, case: Case, record: Record) -> ScoreResult:
        """Judge ``record``'s output against the reference in both orders."""
        o = self.opts
        reference = _reference(case, o.reference_from)
        if reference is None:
            why = f"no reference output for case {case.id!r} (reference_from={o.reference_from!r})"
            return self._finish(PanelOutcome(None, "unscored", why), {})
        if record.output_text is None:
            return self._finish(
                PanelOutcome(None, "unscored", "the record has no output text to judge"), {}
            )
        task = PairTask(
            question=render_question(case.messages()),
            candidate=record.output_text,
            reference=reference,
            rubric=o.rubric,
            template=o.template or PAIRWISE_TEMPLATE,
            system=o.system if o.system is not None else PAIRWISE_SYSTEM,
        )
        try:
            # each pair is judged in both orders: two calls, so half the concurrency
            judges, by_judge = await self._ask_panel(
                judge_pair, task, case, record, max(1, o.concurrency // 2)
            )
        except BudgetExceeded as exc:
            return self._finish(PanelOutcome(None, "unscored", f"judge not asked: {exc}"), {})
        pairs: dict[str, list[Any]] = {
            j.name: [c.judgment for c in by_judge[j.name]] for j in judges
        }
        reasons: list[str | None] = [c.reason for j in judges for c in by_judge[j.name]]
        outcome = reduce_pairs(
            pairs, min_agree=o.agree_needed, drop_if_split=o.drop_if_split, reasons=reasons
        )
        self.report.pairs += outcome.pairs
        self.report.inconsistent_pairs += round((outcome.inconsistent or 0.0) * outcome.pairs)
        values: dict[str, float | None] = {self.name: outcome.value}
        if outcome.inconsistent is not None:
            values[f"{self.name}_inconsistent"] = outcome.inconsistent
        return self._finish(outcome, values)


def _key(case: Case, record: Record, judge: Judge, k: int) -> str:
    return f"{case.id}/judge:{judge.name}/{record.epoch}/r{k}"


register_builtin("judge_rubric", RubricJudgeScorer)
register_builtin("judge_pairwise", PairwiseJudgeScorer)
