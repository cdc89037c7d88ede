"""What a responder sees (:class:`ServerRequest`) and returns (:class:`Reply`).

A responder is any callable ``(ServerRequest) -> Reply | str | None`` (or an async one);
``None`` means "no opinion": the script rules and then the default reply answer.
"""

from __future__ import annotations

import fnmatch
import re
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from nullband.testserver.config import Rule, ServerConfig
from nullband.testserver.tokens import message_text

CASE_HEADER = "X-Nullband-Case"


@dataclass(slots=True)
class ServerRequest:
    """One chat completion request as the server received it.

    Attributes:
        body: the parsed JSON body.
        headers: the request headers (case-insensitive mapping).
        case_key: value of the ``X-Nullband-Case`` header, or None.
        index: 0-based arrival number among all chat requests of this server.
        attempt: 1-based number of this request among those with the same case key.
    """

    body: dict[str, Any]
    headers: Mapping[str, str]
    case_key: str | None
    index: int
    attempt: int = 1

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The chat messages sent."""
        msgs = self.body.get("messages")
        return msgs if isinstance(msgs, list) else []

    @property
    def model(self) -> str:
        """The model requested."""
        return str(self.body.get("model", ""))

    @property
    def tools(self) -> list[dict[str, Any]]:
        """The tool definitions offered (empty when none)."""
        tools = self.body.get("tools")
        return tools if isinstance(tools, list) else []

    @property
    def stream(self) -> bool:
        """Whether a streamed answer was asked for."""
        return bool(self.body.get("stream"))

    @property
    def case_id(self) -> str | None:
        """The case id: the case key up to its first '/'."""
        if self.case_key is None:
            return None
        return self.case_key.split("/", 1)[0]

    @property
    def last_user_text(self) -> str:
        """Text of the last user message ('' when none)."""
        for msg in reversed(self.messages):
            if isinstance(msg, dict) and msg.get("role") == "user":
                return message_text(msg.get("content"))
        return ""


@dataclass(slots=True)
class Reply:
    """What the server answers.

    Attributes:
        content: assistant text (None with tool calls only).
        tool_calls: calls as ``{"name": ..., "arguments": dict | str, "id": optional}``.
        finish_reason: default "stop", or "tool_calls" when there are tool calls; the server
            sets "length" itself when max_tokens cuts the text.
        status: HTTP status; anything but 200 sends an OpenAI-style error body.
        model: overrides the served model for this reply.
        headers: extra response headers.
    """

    content: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    finish_reason: str | None = None
    status: int = 200
    model: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


Responder = Callable[[ServerRequest], "Reply | str | Awaitable[Reply | str | None] | None"]


def tool_call_dicts(reply: Reply, index: int) -> list[dict[str, Any]]:
    """The reply's tool calls in OpenAI wire shape (arguments as JSON text)."""
    out = []
    for i, call in enumerate(reply.tool_calls or []):
        args = call.get("arguments", {})
        args_text = args if isinstance(args, str) else orjson.dumps(args).decode()
        out.append(
            {
                "id": call.get("id") or f"call_{index}_{i}",
                "type": "function",
                "function": {"name": str(call["name"]), "arguments": args_text},
            }
        )
    return out


class ScriptResponder:
    """Answers from the :class:`Rule` list of a config, then the default reply.

    The per-rule ``times`` counters are shared between threads, hence the lock.
    """

    def __init__(self, config: ServerConfig) -> None:
        self._rules = [(r, re.compile(r.match) if r.match else None) for r in config.rules]
        self._default = config.default_content
        self._used: dict[tuple[int, str], int] = {}
        self._lock = threading.Lock()

    def _matches(self, i: int, rule: Rule, rx: re.Pattern[str] | None, req: ServerRequest) -> bool:
        if rule.case is not None:
            key = req.case_key or ""
            cid = req.case_id or ""
            if not (fnmatch.fnmatchcase(cid, rule.case) or fnmatch.fnmatchcase(key, rule.case)):
                return False
        if rx is not None and rx.search(req.last_user_text) is None:
            return False
        if rule.times is not None:
            slot = (i, req.case_key or "")
            with self._lock:
                used = self._used.get(slot, 0)
                if used >= rule.times:
                    return False
                self._used[slot] = used + 1
        return True

    def __call__(self, req: ServerRequest) -> Reply:
        """The first matching rule's reply, else the default (echo of the last user text)."""
        for i, (rule, rx) in enumerate(self._rules):
            if self._matches(i, rule, rx, req):
                calls = None
                if rule.tool_calls is not None:
                    calls = [c.model_dump() for c in rule.tool_calls]
                return Reply(
                    content=rule.content,
                    tool_calls=calls,
                    finish_reason=rule.finish_reason,
                    status=rule.status,
                )
        if self._default is not None:
            return Reply(content=self._default)
        return Reply(content=req.last_user_text)
