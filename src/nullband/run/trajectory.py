"""Turn-by-turn playback of recorded tool results (multi-step trajectories).

:func:`play` sends the case's messages, and while the model calls tools, answers each
call with the output recorded in ``case.tool_results`` and calls the model again, up to
``max_steps`` model turns. Recorded outputs are looked up by tool name and normalised
arguments (:func:`nullband.score.trajectory.call_key`: keys sorted, whitespace in strings
collapsed). A ``tool_results`` entry is ``{"name", "arguments", "output"}``; an entry
without ``arguments`` answers any call of that tool that has no exact entry. A call with
no recorded output, or with arguments that are not valid JSON, gets an error message
(configurable; it starts with "Error" so the recovery signal sees it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from nullband.records import Attempt, ToolCall, Usage
from nullband.score.toolcalls.parse import decode_call
from nullband.score.trajectory import call_key
from nullband.suite.case import Case
from nullband.targets.client import CallOutcome

CallFn = Callable[[list[dict[str, Any]], list[dict[str, Any]] | None], Awaitable[CallOutcome]]
StopReason = Literal["final_answer", "max_steps", "error"]
DEFAULT_UNKNOWN = "Error: no recorded result for {name} with arguments {arguments}"
DEFAULT_MALFORMED = "Error: {error}"


@dataclass(slots=True)
class TrajectoryResult:
    """What a played trajectory produced.

    Attributes:
        outcome: one outcome for the whole trajectory: the last call's status, provenance
            and text; every tool call made; usage, cost, latency and attempts summed over
            all model calls.
        messages: the full transcript (input, assistant turns, tool results).
        steps: model calls made.
        stop: why it stopped: the model answered without a tool call, the step limit,
            or a failed call.
        unknown_calls: tool calls that had no recorded output.
    """

    outcome: CallOutcome
    messages: list[dict[str, Any]]
    steps: int
    stop: StopReason
    unknown_calls: int = 0
    outcomes: list[CallOutcome] = field(default_factory=list)


class ToolResultTable:
    """Recorded tool outputs keyed by tool name and normalised arguments."""

    def __init__(self, entries: list[dict[str, Any]] | None) -> None:
        self.exact: dict[str, str] = {}
        self.by_name: dict[str, str] = {}
        for e in entries or []:
            name = str(e.get("name", ""))
            out = e.get("output", "")
            text = out if isinstance(out, str) else orjson.dumps(out).decode()
            args = e.get("arguments")
            if args is None:
                self.by_name.setdefault(name, text)
            elif isinstance(args, dict):
                self.exact.setdefault(call_key(name, args), text)
            elif isinstance(args, str):
                decoded = decode_call({"name": name, "arguments": args})
                self.exact.setdefault(call_key(name, decoded.args, args), text)

    def lookup(self, name: str, args: dict[str, Any] | None) -> str | None:
        """The recorded output for a call, or None."""
        if args is not None:
            hit = self.exact.get(call_key(name, args))
            if hit is not None:
                return hit
        return self.by_name.get(name)


def _assistant_message(out: CallOutcome, step: int) -> tuple[dict[str, Any], list[ToolCall]]:
    calls = [
        tc if tc.id else tc.model_copy(update={"id": f"call_{step}_{i}"})
        for i, tc in enumerate(out.tool_calls)
    ]
    msg: dict[str, Any] = {"role": "assistant", "content": out.output_text}
    if calls:
        msg["tool_calls"] = [
            {
                "id": tc.id,
                "type": "function",
                "function": {"name": tc.name, "arguments": tc.arguments},
            }
            for tc in calls
        ]
    return msg, calls


def _aggregate(outs: list[CallOutcome], calls: list[ToolCall]) -> CallOutcome:
    last = outs[-1]
    attempts: list[Attempt] = [a for o in outs for a in o.attempts]
    usage = Usage(
        input_tokens=sum(o.usage.input_tokens for o in outs),
        output_tokens=sum(o.usage.output_tokens for o in outs),
        cached_tokens=sum(o.usage.cached_tokens for o in outs),
    )
    latencies = [o.latency_s for o in outs if o.latency_s is not None]
    return CallOutcome(
        status=last.status,
        provenance=last.provenance,
        request_hash=outs[0].request_hash,
        attempts=attempts,
        output_text=last.output_text,
        tool_calls=calls,
        finish_reason=last.finish_reason,
        usage=usage,
        latency_s=sum(latencies) if latencies else None,
        ttft_s=outs[0].ttft_s,
        cost_usd=sum(o.cost_usd for o in outs),
        error=last.error,
        error_class=last.error_class,
        message=last.message,
        gateway=last.gateway,
    )


async def play(
    case: Case,
    call: CallFn,
    max_steps: int,
    *,
    unknown_message: str = DEFAULT_UNKNOWN,
    malformed_message: str = DEFAULT_MALFORMED,
) -> TrajectoryResult:
    """Play a case's recorded tool results back to the model, turn by turn.

    Args:
        case: the case (its messages, tools and ``tool_results``).
        call: ``await call(messages, tools)`` -> CallOutcome, supplied by the runner.
        max_steps: the most model calls to make (>= 1).
        unknown_message: the tool result for a call with no recording; may use
            ``{name}`` and ``{arguments}``.
        malformed_message: the tool result for arguments that are not valid JSON; may use
            ``{name}`` and ``{error}``.

    Returns:
        The transcript and one aggregate outcome (see :class:`TrajectoryResult`).

    Example:
        >>> result = await play(case, client_call, max_steps=10)  # doctest: +SKIP
        >>> result.stop, len(result.messages)
    """
    if max_steps < 1:
        raise ValueError(f"max_steps must be >= 1, got {max_steps}")
    table = ToolResultTable(case.tool_results)
    messages: list[dict[str, Any]] = [dict(m) for m in case.messages()]
    outs: list[CallOutcome] = []
    all_calls: list[ToolCall] = []
    unknown = 0
    stop: StopReason = "max_steps"
    for step in range(max_steps):
        out = await call(messages, case.tools)
        outs.append(out)
        if out.status != "ok":
            stop = "error"
            break
        msg, calls = _assistant_message(out, step)
        messages.append(msg)
        if not calls:
            stop = "final_answer"
            break
        all_calls.extend(calls)
        for tc in calls:
            pred = decode_call(tc)
            if pred.args is None:
                content = malformed_message.format(name=tc.name, error=pred.error)
            else:
                hit = table.lookup(tc.name, pred.args)
                if hit is None:
                    unknown += 1
                    content = unknown_message.format(name=tc.name, arguments=tc.arguments)
                else:
                    content = hit
            messages.append(
                {"role": "tool", "tool_call_id": tc.id, "name": tc.name, "content": content}
            )
    return TrajectoryResult(_aggregate(outs, all_calls), messages, len(outs), stop, unknown, outs)
