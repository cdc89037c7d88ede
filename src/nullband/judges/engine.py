"""Asking judges: one pointwise grade, one both-order pairwise judgment, and a panel's
repeats across several judges, with a bound on calls in flight.

Shared by the judge scorers (cached) and the audit (uncached where consistency is
measured).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from nullband.judges.call import Judge
from nullband.judges.pairwise import PairJudgment, combine
from nullband.judges.parse import GradeParse, Verdict, parse_grade, parse_verdict
from nullband.judges.prompts import (
    PAIRWISE_SYSTEM,
    PAIRWISE_TEMPLATE,
    RUBRIC_SYSTEM,
    RUBRIC_TEMPLATE,
    pairwise_messages,
    rubric_messages,
)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class GradeCall:
    """One pointwise grade: the value on the judge's scale, or why there is none."""

    grade: float | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class PairCall:
    """One both-order judgment, with why an order could not be read (if so)."""

    judgment: PairJudgment
    reason: str | None


@dataclass(frozen=True, slots=True)
class RubricTask:
    """What a pointwise judge is asked: the question, the answer, the reference, the rubric."""

    question: str
    answer: str
    reference: str | None
    rubric: str
    scale_min: float = 1
    scale_max: float = 5
    labels: tuple[tuple[str, float], ...] = ()
    template: str = RUBRIC_TEMPLATE
    system: str | None = RUBRIC_SYSTEM


@dataclass(frozen=True, slots=True)
class PairTask:
    """What a pairwise judge is asked: which of candidate and reference is better."""

    question: str
    candidate: str
    reference: str
    rubric: str
    template: str = PAIRWISE_TEMPLATE
    system: str | None = PAIRWISE_SYSTEM


async def grade_once(
    judge: Judge,
    task: RubricTask,
    *,
    sample: int,
    use_cache: bool = True,
    case_key: str | None = None,
    run_id: str | None = None,
) -> GradeCall:
    """Ask ``judge`` for one grade and read it."""
    msgs = rubric_messages(
        question=task.question,
        answer=task.answer,
        reference=task.reference,
        rubric=task.rubric,
        scale_min=task.scale_min,
        scale_max=task.scale_max,
        template=task.template,
        system=task.system,
    )
    reply = await judge.ask(
        msgs, sample=sample, use_cache=use_cache, case_key=case_key, run_id=run_id
    )
    if reply.text is None:
        return GradeCall(None, f"judge {judge.name}: call failed: {reply.error}")
    parsed: GradeParse = parse_grade(
        reply.text,
        scale_min=task.scale_min,
        scale_max=task.scale_max,
        labels=dict(task.labels),
    )
    if not parsed.ok:
        judge.count_unparsed(run_id)
        return GradeCall(None, f"judge {judge.name}: {parsed.reason}")
    return GradeCall(parsed.value, None)


async def verdict_once(
    judge: Judge,
    task: PairTask,
    *,
    candidate_first: bool,
    sample: int,
    use_cache: bool = True,
    case_key: str | None = None,
    run_id: str | None = None,
) -> tuple[Verdict | None, str | None]:
    """Ask for one positional verdict in one order; returns (verdict, reason)."""
    a, b = (task.candidate, task.reference) if candidate_first else (task.reference, task.candidate)
    msgs = pairwise_messages(
        question=task.question,
        answer_a=a,
        answer_b=b,
        rubric=task.rubric,
        template=task.template,
        system=task.system,
    )
    reply = await judge.ask(
        msgs, sample=sample, use_cache=use_cache, case_key=case_key, run_id=run_id
    )
    if reply.text is None:
        return None, f"judge {judge.name}: call failed: {reply.error}"
    parsed = parse_verdict(reply.text)
    if not parsed.ok:
        judge.count_unparsed(run_id)
        return None, f"judge {judge.name}: {parsed.reason}"
    return parsed.verdict, None


async def judge_pair(
    judge: Judge,
    task: PairTask,
    *,
    sample: int,
    use_cache: bool = True,
    case_key: str | None = None,
    run_id: str | None = None,
) -> PairCall:
    """Judge a pair in both orders (concurrently) and combine the verdicts."""
    fk = f"{case_key}/fwd" if case_key else None
    sk = f"{case_key}/swp" if case_key else None
    try:
        async with asyncio.TaskGroup() as tg:
            fwd = tg.create_task(
                verdict_once(
                    judge,
                    task,
                    candidate_first=True,
                    sample=sample,
                    use_cache=use_cache,
                    case_key=fk,
                    run_id=run_id,
                )
            )
            swp = tg.create_task(
                verdict_once(
                    judge,
                    task,
                    candidate_first=False,
                    sample=sample,
                    use_cache=use_cache,
                    case_key=sk,
                    run_id=run_id,
                )
            )
    except BaseExceptionGroup as group:
        raise _first_error(group) from None
    (v1, r1), (v2, r2) = fwd.result(), swp.result()
    judgment = combine(v1, v2)
    reason = "; ".join(r for r in (r1, r2) if r) or None
    return PairCall(judgment, reason)


async def run_bounded(factories: Sequence[Callable[[], Awaitable[T]]], limit: int) -> list[T]:
    """Run the coroutines that ``factories`` make, at most ``limit`` at once, in order."""
    sem = asyncio.Semaphore(max(1, limit))

    async def one(factory: Callable[[], Awaitable[T]]) -> T:
        async with sem:
            return await factory()

    try:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(one(f)) for f in factories]
    except BaseExceptionGroup as group:
        raise _first_error(group) from None
    return [t.result() for t in tasks]


def _first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first real error inside (possibly nested) task-group errors.

    Callers catch plain exceptions (a budget cap, say); the siblings that were cancelled
    with it carry no extra information.
    """
    first: BaseException = group
    while isinstance(first, BaseExceptionGroup):
        first = first.exceptions[0]
    return first
