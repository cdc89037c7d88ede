"""Server-sent-event answers: one chunk per token, on absolute deadlines.

The first chunk carries the role and the first token and is written at the time to first
token; token *i* is written at ``first + i * per_token_s``. Deadlines are computed from the
arrival time, so a late wake-up does not push back the tokens after it.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from nullband.testserver.faults import FaultKind
from nullband.testserver.timing import sleep_until
from nullband.testserver.tokens import split_tokens

if TYPE_CHECKING:
    from nullband.testserver.app import ChatApp, _Ctx

_DONE = b"data: [DONE]\n\n"
_BROKEN = b'data: {"id": "chatcmpl-broken", "choices": [{"index": 0, "delta": {"content\n\n'


def _deltas(app: ChatApp, ctx: _Ctx) -> list[dict[str, Any]]:
    """The delta of every chunk: text tokens, then each tool call's name and argument pieces."""
    plan = ctx.plan
    deltas: list[dict[str, Any]] = [{"content": p} for p in plan.pieces]
    for i, call in enumerate(plan.calls):
        fn = call["function"]
        deltas.append(
            {
                "tool_calls": [
                    {
                        "index": i,
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": fn["name"], "arguments": ""},
                    }
                ]
            }
        )
        for piece in split_tokens(fn["arguments"], app.cfg.tokenizer):
            deltas.append({"tool_calls": [{"index": i, "function": {"arguments": piece}}]})
    if not deltas:
        deltas.append({"content": ""})
    first = dict(deltas[0])
    first["role"] = "assistant"
    if "content" not in first:
        first["content"] = None
    deltas[0] = first
    return deltas


async def stream_answer(
    app: ChatApp,
    request: web.Request,
    ctx: _Ctx,
    start: float,
    ttft: float,
    fault: FaultKind | None,
    queue_s: float,
) -> web.StreamResponse:
    """Write the answer of ``ctx`` as an SSE stream, applying an in-body ``fault``."""
    loop = asyncio.get_running_loop()
    resp = web.StreamResponse(status=200, headers=ctx.headers)
    resp.content_type = "text/event-stream"
    resp.headers["Cache-Control"] = "no-cache"
    await resp.prepare(request)
    app.stats.on_status(200)
    base = {
        "id": f"chatcmpl-nb{ctx.index:08x}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": ctx.served,
        "system_fingerprint": ctx.fingerprint,
    }
    deltas = _deltas(app, ctx)
    per_token = app.cfg.latency.per_token_s
    first_at = start + ttft
    cut_at = max(1, len(deltas) // 2)
    sent_first = 0.0
    prev = 0.0
    log = app.timings
    writes: list[int] = []
    for i, delta in enumerate(deltas):
        await sleep_until(first_at + i * per_token)
        if fault is not None and i == cut_at:
            if fault == "truncate":
                # Stop mid-answer: no finish chunk, no [DONE], connection closed.
                if request.transport is not None:
                    request.transport.close()
                return resp
            if fault == "malformed":
                await resp.write(_BROKEN)
        chunk = dict(base)
        chunk["choices"] = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}]
        data = b"data: " + orjson.dumps(chunk) + b"\n\n"
        if log is not None:
            writes.append(time.monotonic_ns())
        await resp.write(data)
        now = loop.time()
        if i == 0:
            sent_first = now
        else:
            app.metrics.observe_itl(ctx.served, now - prev)
        prev = now
    if fault == "malformed" and len(deltas) <= cut_at:
        await resp.write(_BROKEN)  # a one-token answer: the bad line goes before the finish
    if fault == "truncate":
        # A one-token answer: cut before the finish chunk instead.
        if request.transport is not None:
            request.transport.close()
        return resp
    final = dict(base)
    final["choices"] = [
        {"index": 0, "delta": {}, "logprobs": None, "finish_reason": ctx.plan.finish_reason}
    ]
    out = [b"data: " + orjson.dumps(final) + b"\n\n"]
    usage = {
        "prompt_tokens": ctx.prompt_tokens,
        "completion_tokens": ctx.plan.completion_tokens,
        "total_tokens": ctx.prompt_tokens + ctx.plan.completion_tokens,
    }
    opts = ctx.body.get("stream_options")
    if isinstance(opts, dict) and opts.get("include_usage"):
        last = dict(base)
        last["choices"] = []
        last["usage"] = usage
        if ctx.extra_fields is not None:
            last["extra_fields"] = ctx.extra_fields
        out.append(b"data: " + orjson.dumps(last) + b"\n\n")
    out.append(_DONE)
    await resp.write(b"".join(out))
    await resp.write_eof()
    if fault != "malformed":
        app.stats.on_success(ctx.key, ctx.served)
    end = loop.time()
    if log is not None:
        log.add(round((start - queue_s) * 1e9), writes)
    app.metrics.finish(
        ctx.served,
        finish_reason=ctx.plan.finish_reason,
        prompt_tokens=ctx.prompt_tokens,
        output_tokens=ctx.plan.completion_tokens,
        ttft_s=sent_first - start + queue_s,
        e2e_s=end - start + queue_s,
        queue_s=queue_s,
    )
    return resp
