"""Judge-decided recovery against a scripted judge on the test server."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from nullband.score.toolcalls.recovery_judge import RecoveryJudgeScorer, parse_verdict
from nullband.testserver import Reply, ServerRequest, TestServer


def _transcript() -> list[dict[str, Any]]:
    def call(i: int, name: str, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": f"c{i}",
                    "type": "function",
                    "function": {"name": name, "arguments": json.dumps(args)},
                }
            ],
        }

    return [
        {"role": "user", "content": "weather in Paris?"},
        call(0, "get_weather", {"city": "Pari"}),
        {"role": "tool", "tool_call_id": "c0", "content": "Error: unknown city Pari"},
        call(1, "get_weather", {"city": "Paris"}),
        {"role": "tool", "tool_call_id": "c1", "content": "Error: service down"},
        call(2, "get_weather", {"city": "Paris"}),
        {"role": "tool", "tool_call_id": "c2", "content": "sunny"},
        {"role": "assistant", "content": "It is sunny."},
    ]


def _judge(req: ServerRequest) -> Reply:
    """Says NO when the next step repeats the failed call exactly, else YES."""
    text = req.last_user_text
    failed = re.search(r"Failed call: (.*)\n", text)
    nxt = re.search(r"What the agent did next: called (.*)\n", text)
    same = failed and nxt and failed.group(1) == nxt.group(1)
    return Reply(content="Thinking it over.\nAnswer: " + ("NO" if same else "YES"))


def test_judge_reads_each_error_and_its_next_step(mkcase, rec):
    async def go() -> Any:
        async with TestServer(responder=_judge) as srv:
            scorer = RecoveryJudgeScorer(
                judge={"name": "j", "base_url": srv.base_url, "model": "judge-1"}
            )
            res = await scorer.ascore(mkcase([]), rec(messages=_transcript()))
            return res, srv.chat_requests

    res, n_requests = asyncio.run(go())
    assert n_requests == 2  # one question per tool error
    assert res.values["recovery_judged"] == 0.5  # fixed typo: YES; identical retry: NO
    assert res.reason is None


def test_unreadable_answers_are_reported_not_counted(mkcase, rec):
    async def go() -> Any:
        async with TestServer(responder=lambda req: Reply(content="maybe")) as srv:
            scorer = RecoveryJudgeScorer(
                judge={"name": "j", "base_url": srv.base_url, "model": "judge-1"}
            )
            return await scorer.ascore(mkcase([]), rec(messages=_transcript()))

    res = asyncio.run(go())
    assert res.values["recovery_judged"] is None
    assert "2 of 2 judge answers unreadable" in (res.reason or "")


def test_no_error_means_nothing_to_judge(mkcase, rec):
    scorer = RecoveryJudgeScorer(
        judge={"name": "j", "base_url": "http://127.0.0.1:9/v1", "model": "m"}
    )
    msgs = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    res = asyncio.run(scorer.ascore(mkcase([]), rec(messages=msgs)))
    assert res.values["recovery_judged"] is None


def test_last_verdict_wins():
    assert parse_verdict("NO at first, but on reflection YES") is True
    assert parse_verdict("yes... no") is False
    assert parse_verdict("unsure") is None
