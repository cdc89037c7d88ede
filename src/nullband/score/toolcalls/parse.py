"""Reading what the model emitted and what tools the case offered."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from nullband.records import ToolCall


@dataclass(frozen=True, slots=True)
class PredCall:
    """A model's tool call with decoded arguments.

    Attributes:
        name: the function name.
        args: decoded arguments, or None when they could not be decoded.
        error: why the arguments could not be decoded (None when they could).
    """

    name: str
    args: dict[str, Any] | None
    error: str | None = None


def decode_call(call: ToolCall | dict[str, Any]) -> PredCall:
    """Decode one tool call's raw JSON arguments; malformed JSON gives ``error``, never raises.

    An empty argument string counts as ``{}`` (servers send it for no-argument tools).
    """
    if isinstance(call, ToolCall):
        name, raw = call.name, call.arguments
    else:
        fn = call.get("function", call)
        name = str(fn.get("name", ""))
        raw = fn.get("arguments", "")
    if isinstance(raw, dict):
        return PredCall(name, raw)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return PredCall(name, {})
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        snippet = raw if len(raw) <= 80 else raw[:77] + "..."
        return PredCall(
            name, None, f"arguments of {name!r} are not valid JSON ({exc}): {snippet!r}"
        )
    if not isinstance(value, dict):
        return PredCall(
            name, None, f"arguments of {name!r} are JSON {type(value).__name__}, not an object"
        )
    return PredCall(name, value)


def tool_schemas(tools: list[dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """Map tool name -> parameters JSON Schema from OpenAI tool definitions.

    Accepts ``{"type": "function", "function": {...}}`` and bare ``{"name", "parameters"}``.
    """
    out: dict[str, dict[str, Any]] = {}
    for tool in tools or []:
        fn = tool.get("function", tool) if isinstance(tool, dict) else None
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            params = fn.get("parameters")
            out[fn["name"]] = params if isinstance(params, dict) else {}
    return out


def resolve_name(gold_name: str, offered: dict[str, Any]) -> str:
    """The name a model must emit for ``gold_name``.

    OpenAI-style tool names cannot hold dots, so importers offer ``math.factorial`` as
    ``math_factorial`` (BFCL's ``underscore_to_dot``); a gold name that is not offered but
    whose dotted form converts to an offered name resolves to that name.
    """
    if gold_name in offered or "." not in gold_name:
        return gold_name
    alt = gold_name.replace(".", "_")
    return alt if alt in offered else gold_name
