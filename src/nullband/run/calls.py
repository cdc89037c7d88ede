"""One unit of work: call a target for one (case, epoch), score it, build its Record."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nullband.records import RECORD_SCHEMA_VERSION, Record
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
