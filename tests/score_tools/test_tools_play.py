"""Trajectory playback: recorded tool results fed back turn by turn."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from nullband.records import Attempt, Provenance, ToolCall, Usage
from nullband.run.trajectory import play
from nullband.suite.case import Case
from nullband.targets.client import CallOutcome

CASE = Case(
    id="t1",
    prompt="book Paris on May 26",
    tools=[
        {"type": "function", "function": {"name": "search", "parameters": {}}},
        {"type": "function", "function": {"name": "book", "parameters": {}}},
    ],
    tool_results=[
        {
            "name": "search",
            "arguments": {"city": "Paris", "date": "2026-05-26"},
            "output": '["F1"]',
        },
        {"name": "book", "arguments": {"flight": "F1"}, "output": {"ok": True}},
        {"name": "clock", "output": "12:00"},
    ],
    expected={
        "steps": [
            {"name": "search", "arguments": {"city": "Paris", "date": "2026-05-26"}},
            {"name": "book", "arguments": {"flight": "F1"}},
        ]
    },
)


def _out(
    text: str | None = None, calls: list[tuple[str, str]] | None = None, status: str = "ok"
) -> CallOutcome:
    return CallOutcome(
        status=status,  # type: ignore[arg-type]
        provenance=Provenance(requested="m"),
        request_hash="h",
        attempts=[Attempt(n=1, started_at=datetime.now(UTC))],
        output_text=text,
        tool_calls=[ToolCall(name=n, arguments=a) for n, a in calls or []],
        usage=Usage(input_tokens=10, output_tokens=2),
        latency_s=0.5,
        cost_usd=0.01,
        error="boom" if status == "error" else None,
    )


class Scripted:
    """A model that answers with scripted outcomes and keeps what it was sent."""

    def __init__(self, outs: list[CallOutcome]) -> None:
        self.outs = outs
        self.seen: list[list[dict[str, Any]]] = []

    async def __call__(self, messages: list[dict[str, Any]], tools: Any) -> CallOutcome:
        self.seen.append([dict(m) for m in messages])
        return self.outs[len(self.seen) - 1]


def test_recorded_results_are_found_by_normalised_arguments():
    model = Scripted(
        [
            # key order and whitespace differ from the recording
            _out(calls=[("search", '{"date": "2026-05-26",  "city": " Paris"}')]),
            _out(calls=[("book", '{"flight":"F1"}'), ("clock", "{}")]),
            _out("Booked F1."),
        ]
    )
    res = asyncio.run(play(CASE, model, max_steps=5))
    assert res.stop == "final_answer"
    assert res.steps == 3
    tool_msgs = [m for m in res.messages if m["role"] == "tool"]
    assert [m["content"] for m in tool_msgs] == [
        '["F1"]',
        orjson.dumps({"ok": True}).decode(),
        "12:00",
    ]
    # each turn saw the previous tool results, with ids matching the assistant's calls
    second = model.seen[1]
    assert second[-1]["role"] == "tool"
    assert second[-1]["tool_call_id"] == second[-2]["tool_calls"][0]["id"]
    assert res.unknown_calls == 0
    assert res.outcome.usage.input_tokens == 30
    assert res.outcome.cost_usd == pytest.approx(0.03)
    assert len(res.outcome.attempts) == 3
    assert [c.name for c in res.outcome.tool_calls] == ["search", "book", "clock"]
    assert res.outcome.output_text == "Booked F1."


def test_unknown_and_malformed_calls_get_error_results():
    model = Scripted(
        [
            _out(calls=[("search", '{"city": "Rome"}'), ("book", '{"flight": ')]),
            _out("sorry"),
        ]
    )
    res = asyncio.run(play(CASE, model, max_steps=5, unknown_message="ERR no data for {name}"))
    contents = [m["content"] for m in res.messages if m["role"] == "tool"]
    assert contents[0] == "ERR no data for search"
    assert contents[1].startswith("Error: arguments of 'book' are not valid JSON")
    assert res.unknown_calls == 1


def test_step_limit_and_failed_call_stop_playback():
    loop = Scripted([_out(calls=[("clock", "{}")])] * 10)
    res = asyncio.run(play(CASE, loop, max_steps=3))
    assert res.stop == "max_steps"
    assert res.steps == 3
    failing = Scripted([_out(calls=[("clock", "{}")]), _out(status="error")])
    res = asyncio.run(play(CASE, failing, max_steps=5))
    assert res.stop == "error"
    assert res.outcome.status == "error"
    with pytest.raises(ValueError, match="max_steps"):
        asyncio.run(play(CASE, failing, max_steps=0))
