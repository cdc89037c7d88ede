"""Helpers for the test-server tests (a uniquely named module, not conftest, so it never
clashes with other areas' helpers): a chat POST over real HTTP with aiohttp."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson


def chat_body(text: str = "hello there world", **extra: Any) -> dict[str, Any]:
    """A chat completion request body with one user message."""
    return {"model": "acme-2026-05-01", "messages": [{"role": "user", "content": text}], **extra}


async def post_chat(
    session: aiohttp.ClientSession,
    base_url: str,
    body: dict[str, Any],
    case_key: str | None = None,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """POST /chat/completions; returns (status, parsed JSON body, headers)."""
    headers = {"X-Nullband-Case": case_key} if case_key else {}
    async with session.post(f"{base_url}/chat/completions", json=body, headers=headers) as resp:
        raw = await resp.read()
        return resp.status, orjson.loads(raw), dict(resp.headers)


async def read_stream(
    session: aiohttp.ClientSession, base_url: str, body: dict[str, Any]
) -> list[dict[str, Any]]:
    """POST a streaming request; returns the parsed chunks (the [DONE] marker is checked)."""
    chunks: list[dict[str, Any]] = []
    done = False
    async with session.post(f"{base_url}/chat/completions", json=dict(body, stream=True)) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        async for line in resp.content:
            line = line.strip()
            if not line:
                continue
            assert line.startswith(b"data: ")
            payload = line[len(b"data: ") :]
            if payload == b"[DONE]":
                done = True
                continue
            chunks.append(orjson.loads(payload))
    assert done, "stream ended without data: [DONE]"
    return chunks
