"""One unit of work: call a target for one (case, epoch), score it, build its Record."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime
from typing import Any

from nullband.records import RECORD_SCHEMA_VERSION, Record
from nullband.score.base import AnyScorer, AsyncScorer, ScoreResult, merge_results
from nullband.suite.case import Case
from nullband.targets._fast import build
from nullband.targets.client import CallOutcome, TargetClient


def record_from_outcome(
    out: CallOutcome,
    *,
    run_id: str,
    case: Case,
    case_hash: str,
    target: str,
    epoch: int,
    messages: list[dict[str, Any]] | None = None,
) -> Record:
    """The record of a finished call.

    Built without validation (:func:`nullband.targets._fast.build`): every field comes
    from typed values produced by the client, so validating again would only cost time
    on the hot path.
    """
    return build(
        Record,
        {
            "schema_version": RECORD_SCHEMA_VERSION,
            "run_id": run_id,
            "case_id": case.id,
            "case_hash": case_hash,
            "epoch": epoch,
            "target": target,
            "request_hash": out.request_hash,
            "status": out.status,
            "output_text": out.output_text,
            "tool_calls": out.tool_calls,
            "messages": messages,
            "finish_reason": out.finish_reason,
            "usage": out.usage,
            "latency_s": out.latency_s,
            "ttft_s": out.ttft_s,
            "attempts": out.attempts,
            "cost_usd": out.cost_usd,
            "provenance": out.provenance,
            "error": out.error,
            "error_class": out.error_class,
            "scores": {},
            "score_reasons": {},
            "created_at": datetime.now(UTC),
        },
    )


async def call_case(
    client: TargetClient,
    case: Case,
    *,
    key: str,
    max_steps: int,
) -> tuple[CallOutcome, list[dict[str, Any]] | None]:
    """Call a target for one case: one chat call, or a played-back trajectory.

    Returns the final call's outcome and, for trajectories, the whole transcript.

    Raises:
        BudgetExceeded: the budget refused a call (the case is left for a resume).
    """
    if not case.tool_results:
        return await client.chat(case.messages(), case.tools, case_key=key), None
    from nullband.run.trajectory import play  # owned by the tools work; imported on use

    async def call(
        messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None
    ) -> CallOutcome:
        return await client.chat(messages, tools, case_key=key)

    result = await play(case, call, max_steps)
    return result.outcome, result.messages


class Scoring:
    """The config's scorers, applied to each record as ``score_record`` would.

    Same contract as :func:`nullband.score.registry.score_record` (error records get no
    scores; a case's own ``scorers`` list picks among the loaded ones; a scorer that
    raises gives a reason and no verdict), but each scorer is classified sync or async
    once, not per record: ``isinstance`` against the runtime-checkable scorer protocols
    costs about 40 us per check, more than the rest of scoring. A test checks both give
    the same scores.
    """

    def __init__(self, scorers: list[AnyScorer]) -> None:
        self.items: list[tuple[AnyScorer, bool]] = [
            (
                s,
                isinstance(s, AsyncScorer)
                and inspect.iscoroutinefunction(getattr(s, "ascore", None)),
            )
            for s in scorers
        ]

    async def apply(self, case: Case, record: Record) -> None:
        """Attach scores and reasons to an ok record (error records get none)."""
        if record.status != "ok" or not self.items:
            return
        items = self.items
        if case.scorers is not None:
            wanted = set(case.scorers)
            items = [it for it in items if it[0].name in wanted]
        results: list[tuple[str, ScoreResult]] = []
        for scorer, is_async in items:
            try:
                if is_async:
                    res = await scorer.ascore(case, record)  # type: ignore[union-attr]
                else:
                    res = scorer.score(case, record)  # type: ignore[union-attr]
            except Exception as exc:  # a user scorer's bug must not lose the run
                res = ScoreResult(reason=f"{scorer.name} raised {type(exc).__name__}: {exc}")
            results.append((scorer.name, res))
        record.scores, record.score_reasons = merge_results(results)
