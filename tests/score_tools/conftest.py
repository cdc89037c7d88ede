"""Helpers for the tool-scoring tests: records and cases built in one line."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from nullband.records import Provenance, Record, ToolCall
from nullband.suite.case import Case


def make_record(
    calls: list[tuple[str, Any]] | None = None,
    *,
    case_id: str = "c1",
    text: str | None = None,
    messages: list[dict[str, Any]] | None = None,
    target: str = "t",
    epoch: int = 0,
) -> Record:
    """A record whose tool calls are (name, arguments) pairs; a str argument is sent raw."""
    tcs = [
        ToolCall(
            id=f"call_{i}",
            name=name,
            arguments=args if isinstance(args, str) else orjson.dumps(args).decode(),
        )
        for i, (name, args) in enumerate(calls or [])
    ]
    return Record(
        run_id="run",
        case_id=case_id,
        case_hash="h",
        epoch=epoch,
        target=target,
        request_hash="r",
        status="ok",
        output_text=text,
        tool_calls=tcs,
        messages=messages,
        provenance=Provenance(requested="m"),
        created_at=datetime.now(UTC),
    )


def tool(name: str, props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """An OpenAI tool definition."""
    return {
        "type": "function",
        "function": {
            "name": name,
            "parameters": {"type": "object", "properties": props, "required": required},
        },
    }


@pytest.fixture
def rec() -> Callable[..., Record]:
    """The make_record helper."""
    return make_record


def make_case(expected: Any, tools: list[dict[str, Any]] | None = None, **kw: Any) -> Case:
    """A case with a fixed prompt."""
    return Case(id=kw.pop("id", "c1"), prompt="p", expected=expected, tools=tools, **kw)


@pytest.fixture
def mkcase() -> Callable[..., Case]:
    """The make_case helper."""
    return make_case


@pytest.fixture
def mktool() -> Callable[..., dict[str, Any]]:
    """The tool-definition helper."""
    return tool
