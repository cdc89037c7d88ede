"""Parsing OpenAI chat-completion responses (whole JSON bodies and SSE streams).

Kept free of pydantic validation: the hot path reads only the fields a record needs and
treats anything else as opaque. A body that lacks what a completion must have raises
:class:`MalformedResponse`, which the client counts as a retryable failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from nullband.records import ToolCall


class MalformedResponse(Exception):
    """The server answered 2xx but the body is not a chat completion."""


@dataclass(slots=True)
class Completion:
    """The parts of a completion a record keeps."""

    text: str | None
    tool_calls: list[ToolCall]
    finish_reason: str | None
    model: str | None
    fingerprint: str | None
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    message: dict[str, Any]
    body: dict[str, Any] | None = None


def _usage(usage: Any) -> tuple[int, int, int]:
    if not isinstance(usage, dict):
        return 0, 0, 0
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    return (
        int(usage.get("prompt_tokens") or 0),
        int(usage.get("completion_tokens") or 0),
        int(cached or 0),
    )


def _tool_calls(raw: Any) -> list[ToolCall]:
    if not raw:
        return []
    out = []
    for tc in raw:
        fn = tc["function"]
        out.append(
            ToolCall.model_construct(
                id=tc.get("id"), name=str(fn["name"]), arguments=fn.get("arguments") or ""
            )
        )
    return out


def parse_body(raw: bytes) -> Completion:
    """Parse a non-streaming chat completion body.

    Raises:
        MalformedResponse: not JSON, or no ``choices[0].message``.
    """
    try:
        data = orjson.loads(raw)
        choice = data["choices"][0]
        msg = choice["message"]
        if not isinstance(msg, dict):
            raise TypeError("message is not an object")
        content = msg.get("content")
        if content is not None and not isinstance(content, str):
            content = orjson.dumps(content).decode()
        tool_calls = _tool_calls(msg.get("tool_calls"))
        inp, outp, cached = _usage(data.get("usage"))
        model = data.get("model")
        fp = data.get("system_fingerprint")
        return Completion(
            text=content,
            tool_calls=tool_calls,
            finish_reason=choice.get("finish_reason"),
            model=model if isinstance(model, str) else None,
            fingerprint=fp if isinstance(fp, str) else None,
            input_tokens=inp,
            output_tokens=outp,
            cached_tokens=cached,
            message=msg,
            body=data,
        )
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, ValueError) as exc:
        raise MalformedResponse(_describe(exc, raw)) from None


def _describe(exc: Exception, raw: bytes) -> str:
    kind = "body is not JSON" if isinstance(exc, orjson.JSONDecodeError) else "not a completion"
    return f"malformed response ({kind}: {type(exc).__name__} {exc}); body starts {raw[:80]!r}"


@dataclass(slots=True)
class StreamAccumulator:
    """Folds SSE ``data:`` chunks of a streamed completion into a :class:`Completion`."""

    parts: list[str] = field(default_factory=list)
    calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    finish_reason: str | None = None
    model: str | None = None
    fingerprint: str | None = None
    usage: Any = None
    done: bool = False
    got_token: bool = False

    def feed(self, line: bytes) -> bool:
        """Take one line of the stream; True when it carried the first token.

        Raises:
            MalformedResponse: a ``data:`` line that is not a JSON chunk.
        """
        line = line.strip()
        if not line.startswith(b"data:"):
            return False
        payload = line[5:].strip()
        if payload == b"[DONE]":
            self.done = True
            return False
        try:
            chunk = orjson.loads(payload)
            if chunk.get("usage"):
                self.usage = chunk["usage"]
            if isinstance(chunk.get("model"), str):
                self.model = chunk["model"]
            if isinstance(chunk.get("system_fingerprint"), str):
                self.fingerprint = chunk["system_fingerprint"]
            first = False
            for choice in chunk.get("choices") or ():
                delta = choice.get("delta") or {}
                if delta.get("content"):
                    self.parts.append(delta["content"])
                    first = True
                for tc in delta.get("tool_calls") or ():
                    slot = self.calls.setdefault(int(tc.get("index", 0)), {"args": []})
                    if tc.get("id"):
                        slot["id"] = tc["id"]
                    fn = tc.get("function") or {}
                    if fn.get("name"):
                        slot["name"] = fn["name"]
                    if fn.get("arguments"):
                        slot["args"].append(fn["arguments"])
                    first = True
                if choice.get("finish_reason"):
                    self.finish_reason = choice["finish_reason"]
        except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError) as exc:
            raise MalformedResponse(_describe(exc, payload)) from None
        if first and not self.got_token:
            self.got_token = True
            return True
        return False

    def result(self) -> Completion:
        """The completion, once the stream ended.

        Raises:
            MalformedResponse: the stream ended before ``[DONE]`` or a finish reason.
        """
        if not self.done and self.finish_reason is None:
            raise MalformedResponse("stream ended early (no finish_reason and no [DONE])")
        calls = [
            ToolCall.model_construct(
                id=c.get("id"), name=str(c.get("name") or ""), arguments="".join(c["args"])
            )
            for _, c in sorted(self.calls.items())
        ]
        text = "".join(self.parts) if self.parts or not calls else None
        msg: dict[str, Any] = {"role": "assistant", "content": text}
        if calls:
            msg["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments},
                }
                for c in calls
            ]
        inp, outp, cached = _usage(self.usage)
        return Completion(
            text=text,
            tool_calls=calls,
            finish_reason=self.finish_reason,
            model=self.model,
            fingerprint=self.fingerprint,
            input_tokens=inp,
            output_tokens=outp,
            cached_tokens=cached,
            message=msg,
        )
