"""Converting message shapes (OpenTelemetry parts, Anthropic blocks) to OpenAI chat messages."""

from __future__ import annotations

from typing import Any

import orjson


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _blocks_text(content: Any) -> Any:
    """Content blocks (``[{"type": "text", "text": ...}]``) joined to text; others as given."""
    if isinstance(content, list):
        texts = []
        for block in content:
            if isinstance(block, dict):
                if "text" in block:
                    texts.append(str(block["text"]))
                elif "content" in block and isinstance(block["content"], str):
                    texts.append(block["content"])
            elif isinstance(block, str):
                texts.append(block)
        return "".join(texts)
    return content


def from_parts_message(msg: dict[str, Any]) -> list[dict[str, Any]]:
    """One OTel GenAI message (``{role, parts}``) as OpenAI messages.

    A ``tool_call_response`` part becomes its own ``role: tool`` message, as OpenAI expects.
    """
    role = str(msg.get("role", "user"))
    parts = msg.get("parts")
    if not isinstance(parts, list):
        # already OpenAI-shaped (or close enough)
        out = dict(msg)
        if "content" in out:
            out["content"] = _blocks_text(out["content"])
        return [out]
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    responses: list[dict[str, Any]] = []
    for part in parts:
        if not isinstance(part, dict):
            continue
        ptype = part.get("type")
        if ptype == "text":
            texts.append(str(part.get("content", "")))
        elif ptype == "tool_call":
            calls.append(
                {
                    "id": part.get("id"),
                    "type": "function",
                    "function": {
                        "name": part.get("name", ""),
                        "arguments": _as_text(part.get("arguments", {})),
                    },
                }
            )
        elif ptype == "tool_call_response":
            responses.append(
                {
                    "role": "tool",
                    "tool_call_id": part.get("id"),
                    "content": _as_text(part.get("response")),
                }
            )
    out_msgs: list[dict[str, Any]] = []
    if texts or calls or not responses:
        m: dict[str, Any] = {"role": role, "content": "".join(texts) if texts else None}
        if calls:
            m["tool_calls"] = calls
        if msg.get("name"):
            m["name"] = msg["name"]
        out_msgs.append(m)
    out_msgs.extend(responses)
    return out_msgs


def from_parts_messages(msgs: Any) -> list[dict[str, Any]]:
    """A list of OTel GenAI messages (or OpenAI ones) as OpenAI messages."""
    if not isinstance(msgs, list):
        return []
    out: list[dict[str, Any]] = []
    for m in msgs:
        if isinstance(m, dict):
            out.extend(from_parts_message(m))
    return out


def system_instructions(value: Any) -> list[dict[str, Any]]:
    """``gen_ai.system_instructions`` (a list of parts, or text) as one system message."""
    if isinstance(value, str):
        return [{"role": "system", "content": value}]
    if isinstance(value, list):
        text = "".join(
            str(p.get("content", ""))
            for p in value
            if isinstance(p, dict) and p.get("type") == "text"
        )
        return [{"role": "system", "content": text}]
    return []


def openai_message(value: Any) -> dict[str, Any] | None:
    """An assistant message from a stored response or message (OpenAI or Anthropic shape)."""
    if not isinstance(value, dict):
        return None
    choices = value.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        msg = choices[0].get("message")
        return dict(msg) if isinstance(msg, dict) else None
    if value.get("type") == "message" and isinstance(value.get("content"), list):
        calls = [
            {
                "id": b.get("id"),
                "type": "function",
                "function": {"name": b.get("name", ""), "arguments": _as_text(b.get("input", {}))},
            }
            for b in value["content"]
            if isinstance(b, dict) and b.get("type") == "tool_use"
        ]
        m: dict[str, Any] = {"role": "assistant", "content": _blocks_text(value["content"]) or None}
        if calls:
            m["tool_calls"] = calls
        return m
    if "role" in value:
        out = dict(value)
        if "content" in out:
            out["content"] = _blocks_text(out["content"])
        return out
    return None
