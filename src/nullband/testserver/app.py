"""The aiohttp application of the test server: routes and the chat-completions hot path.

The hot path (a zero-latency, fault-free JSON chat call) parses the body with orjson,
asks the responder, counts tokens with one regex and writes one orjson body; everything
optional (faults, gateway headers, queueing, delays) is skipped unless configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import socket
import struct
import time
from typing import Any

import orjson
from aiohttp import web

from nullband.testserver.config import ServerConfig
from nullband.testserver.faults import FaultKind, FaultPicker, draw_delay, unit
from nullband.testserver.gateway import gateway_answer
from nullband.testserver.metrics import ServerMetrics
from nullband.testserver.reply import (
    CASE_HEADER,
    Reply,
    Responder,
    ScriptResponder,
    ServerRequest,
    tool_call_dicts,
)
from nullband.testserver.stats import CaseStats
from nullband.testserver.timing import ArrivalStamps, TimingLog, sleep_until
from nullband.testserver.tokens import FILLER, chat_template, count_tokens, split_tokens

_JSON = "application/json"
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "server_error",
    503: "service_unavailable",
    504: "timeout",
}


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    """An OpenAI-style error body."""
    body = {
        "error": {
            "message": message,
            "type": _ERROR_TYPES.get(status, "error"),
            "param": None,
            "code": status,
        }
    }
    return web.Response(status=status, body=orjson.dumps(body), content_type=_JSON, headers=headers)


def _reset_connection(request: web.Request) -> None:
    """Abort the connection with a TCP reset (SO_LINGER 0), sending nothing."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


class Plan:
    """The tokens one answer will carry."""

    __slots__ = ("calls", "completion_tokens", "finish_reason", "pieces", "text")

    def __init__(self, reply: Reply, body: dict[str, Any], cfg: ServerConfig, index: int) -> None:
        pieces = split_tokens(reply.content, cfg.tokenizer) if reply.content else []
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
        min_tokens = body.get("min_tokens") or 0
        target = len(pieces)
        if body.get("ignore_eos") and isinstance(max_tokens, int):
            target = max_tokens
        elif isinstance(min_tokens, int):
            target = max(target, min_tokens)
        if isinstance(max_tokens, int) and max_tokens >= 0:
            target = min(target, max_tokens)
        finish = reply.finish_reason or "stop"
        if target < len(pieces) or (body.get("ignore_eos") and target == max_tokens):
            finish = "length"
        if target != len(pieces):
            pieces = pieces[:target] + [FILLER] * (target - len(pieces))
        self.pieces = pieces
        self.text: str | None = "".join(pieces) if pieces or reply.content is not None else None
        self.calls = tool_call_dicts(reply, index) if reply.tool_calls else []
        call_tokens = 0
        for call in self.calls:
            fn = call["function"]
            call_tokens += 1 + count_tokens(fn["arguments"], cfg.tokenizer)
        if self.calls and reply.finish_reason is None:
            finish = "tool_calls"
        self.finish_reason = finish
        self.completion_tokens = len(pieces) + call_tokens


class ChatApp:
    """Holds the server's state and handles its routes."""

    def __init__(
        self,
        config: ServerConfig,
        responder: Responder | None,
        stats: CaseStats,
        metrics: ServerMetrics,
    ) -> None:
        self.cfg = config
        self.responder = responder
        self.responder_is_async = responder is not None and inspect.iscoroutinefunction(responder)
        self.script = ScriptResponder(config)
        self.stats = stats
        self.metrics = metrics
        self.faults = FaultPicker(config.faults)
        self.n_chat = 0
        self.closing: asyncio.Event | None = None
        self.queue: asyncio.Semaphore | None = None
        self.auth = f"Bearer {config.api_key}" if config.api_key else None
        self.arrivals = ArrivalStamps()  # filled by the server's connections
        self.timings = TimingLog.from_env()  # None unless NULLBAND_TESTSERVER_TIMINGS is set
        self.has_latency = (
            config.latency.ttft_s > 0
            or config.latency.per_token_s > 0
            or config.latency.extra is not None
        )

    def build(self) -> web.Application:
        """The aiohttp application (call inside the server's event loop)."""
        self.closing = asyncio.Event()
        if self.cfg.max_running is not None:
            self.queue = asyncio.Semaphore(self.cfg.max_running)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        from nullband.testserver import endpoints

        app.router.add_post("/v1/chat/completions", self.chat)
        endpoints.add_routes(app, self)
        return app

    # -- served model -------------------------------------------------------------------

    def served_model(self, requested: str, index: int) -> tuple[str, str]:
        """(served model, system_fingerprint) for the ``index``-th chat request."""
        sw = self.cfg.switch
        if sw is not None and index >= sw.after:
            return sw.served_model, sw.fingerprint
        if self.cfg.served_model is not None:
            return self.cfg.served_model, self.cfg.fingerprint
        if self.cfg.gateway.style != "none" and "/" in requested:
            return requested.split("/", 1)[1], self.cfg.fingerprint
        return requested, self.cfg.fingerprint

    def current_model(self) -> str:
        """The model a request arriving now would be served by (for /v1/models)."""
        return self.served_model(self.cfg.served_model or "nullband-echo", self.n_chat)[0]

    async def _reply(self, req: ServerRequest) -> Reply:
        if self.responder is not None:
            out: Any = self.responder(req)
            if self.responder_is_async or inspect.isawaitable(out):
                out = await out
            if isinstance(out, str):
                return Reply(content=out)
            if isinstance(out, Reply):
                return out
        return self.script(req)

    # -- chat completions ---------------------------------------------------------------

    async def chat(self, request: web.Request) -> web.StreamResponse:
        """POST /v1/chat/completions."""
        loop = asyncio.get_running_loop()
        # the request's time is when its bytes arrived, not when this handler got to run
        arrived = self.arrivals.arrival(request.transport)
        t0 = arrived / 1e9 if arrived is not None else loop.time()
        if self.auth is not None and request.headers.get("Authorization") != self.auth:
            self.stats.on_status(401)
            return error_response(401, "missing or wrong API key")
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError as exc:
            self.stats.on_status(400)
            return error_response(400, f"request body is not valid JSON: {exc}")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            self.stats.on_status(400)
            return error_response(400, "request body needs a 'messages' list")
        key = request.headers.get(CASE_HEADER)
        index = self.n_chat
        self.n_chat += 1
        attempt = self.stats.on_request(key)
        draw_key = key if key is not None else f"#{index}"
        fault = self.faults.pick(draw_key, attempt if key is not None else 0)
        req = ServerRequest(body, request.headers, key, index, attempt)
        if fault is not None:
            self.stats.on_fault(fault)
            early = await self._early_fault(fault, request)
            if early is not None:
                return early
        try:
            reply = await self._reply(req)
        except Exception as exc:  # a responder's bug becomes a visible 500, not a hang
            self.stats.on_status(500)
            return error_response(500, f"responder raised {type(exc).__name__}: {exc}")
        if reply.status != 200:
            self.stats.on_status(reply.status)
            return error_response(reply.status, "scripted error", reply.headers)
        requested = str(body.get("model", ""))
        served, fingerprint = self.served_model(requested, index)
        if reply.model is not None:
            served = reply.model
        headers = dict(reply.headers)
        extra_fields = None
        if self.cfg.gateway.style != "none":
            gw = gateway_answer(
                self.cfg.gateway,
                seed=self.cfg.faults.seed,
                draw_key=draw_key,
                attempt=attempt,
                requested=requested,
                served=served,
                headers=request.headers,
                body=body,
                elapsed_ms=(loop.time() - t0) * 1000.0,
            )
            served = gw.served
            headers.update(gw.headers)
            extra_fields = gw.extra_fields
        plan = Plan(reply, body, self.cfg, index)
        prompt_tokens = count_tokens(chat_template(body["messages"]), self.cfg.tokenizer)
        ttft = self.cfg.latency.ttft_s
        if self.cfg.latency.extra is not None:
            u = unit(self.cfg.faults.seed, "lat-u", draw_key, attempt)
            v = unit(self.cfg.faults.seed, "lat-v", draw_key, attempt)
            ttft += draw_delay(self.cfg.latency.extra, u, v)
        kv = prompt_tokens + plan.completion_tokens
        queue_s = 0.0
        if self.queue is not None:
            self.metrics.waiting += 1
            try:
                await self.queue.acquire()
            finally:
                self.metrics.waiting -= 1
            queue_s = loop.time() - t0
        self.metrics.running += 1
        self.metrics.kv_tokens_in_use += kv
        try:
            ctx = _Ctx(
                body, key, index, served, fingerprint, plan, prompt_tokens, headers, extra_fields
            )
            if body.get("stream"):
                return await self._stream(request, ctx, t0 + queue_s, ttft, fault, queue_s)
            return await self._json(request, ctx, t0 + queue_s, ttft, fault, queue_s)
        finally:
            self.metrics.running -= 1
            self.metrics.kv_tokens_in_use -= kv
            if self.queue is not None:
                self.queue.release()

    async def _early_fault(
        self, fault: FaultKind, request: web.Request
    ) -> web.StreamResponse | None:
        """Answer a fault that replaces the whole response; None for in-body faults."""
        if fault == "429":
            self.stats.on_status(429)
            ra = self.cfg.faults.retry_after_s
            headers = {
                "Retry-After": f"{ra:g}",
                "retry-after-ms": f"{ra * 1000:.0f}",
            }
            return error_response(429, "rate limit reached (injected fault)", headers)
        if fault in ("500", "503"):
            status = int(fault)
            self.stats.on_status(status)
            return error_response(status, f"injected {status} fault")
        if fault == "timeout":
            assert self.closing is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.closing.wait(), self.cfg.faults.hang_s)
            self.stats.on_status(504)
            return error_response(504, "injected timeout: the server hung")
        if fault == "reset":
            self.stats.on_status(0)
            _reset_connection(request)
            return web.Response(status=500)
        return None

    def _body(self, ctx: _Ctx) -> dict[str, Any]:
        plan = ctx.plan
        message: dict[str, Any] = {"role": "assistant", "content": plan.text}
        if plan.calls:
            message["tool_calls"] = plan.calls
        out: dict[str, Any] = {
            "id": f"chatcmpl-nb{ctx.index:08x}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": ctx.served,
            "system_fingerprint": ctx.fingerprint,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": plan.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": ctx.prompt_tokens,
                "completion_tokens": plan.completion_tokens,
                "total_tokens": ctx.prompt_tokens + plan.completion_tokens,
            },
        }
        if ctx.extra_fields is not None:
            out["extra_fields"] = ctx.extra_fields
        return out

    async def _json(
        self,
        request: web.Request,
        ctx: _Ctx,
        start: float,
        ttft: float,
        fault: FaultKind | None,
        queue_s: float,
    ) -> web.StreamResponse:
        n = ctx.plan.completion_tokens
        done_at = start + ttft + self.cfg.latency.per_token_s * max(0, n - 1)
        if self.has_latency:
            await sleep_until(done_at)
        data = orjson.dumps(self._body(ctx))
        if fault == "malformed":
            self.stats.on_status(200)
            return web.Response(
                body=data[: len(data) // 2], content_type=_JSON, headers=ctx.headers
            )
        if fault == "truncate":
            self.stats.on_status(200)
            resp = web.StreamResponse(headers=ctx.headers)
            resp.content_type = _JSON
            resp.content_length = len(data)
            await resp.prepare(request)
            await resp.write(data[: len(data) // 2])
            _reset_connection(request)
            return resp
        self.stats.on_status(200)
        self.stats.on_success(ctx.key, ctx.served)
        loop_now = asyncio.get_running_loop().time()
        self.metrics.finish(
            ctx.served,
            finish_reason=ctx.plan.finish_reason,
            prompt_tokens=ctx.prompt_tokens,
            output_tokens=n,
            ttft_s=ttft + queue_s,
            e2e_s=loop_now - start + queue_s,
            queue_s=queue_s,
        )
        return web.Response(body=data, content_type=_JSON, headers=ctx.headers)

    async def _stream(
        self,
        request: web.Request,
        ctx: _Ctx,
        start: float,
        ttft: float,
        fault: FaultKind | None,
        queue_s: float,
    ) -> web.StreamResponse:
        from nullband.testserver.streaming import stream_answer

        return await stream_answer(self, request, ctx, start, ttft, fault, queue_s)


class _Ctx:
    """Per-request values shared by the JSON and streaming writers."""

    __slots__ = (
        "body",
        "extra_fields",
        "fingerprint",
        "headers",
        "index",
        "key",
        "plan",
        "prompt_tokens",
        "served",
    )

    def __init__(
        self,
        body: dict[str, Any],
        key: str | None,
        index: int,
        served: str,
        fingerprint: str,
        plan: Plan,
        prompt_tokens: int,
        headers: dict[str, str],
        extra_fields: dict[str, Any] | None,
    ) -> None:
        self.body = body
        self.key = key
        self.index = index
        self.served = served
        self.fingerprint = fingerprint
        self.plan = plan
        self.prompt_tokens = prompt_tokens
        self.headers = headers
        self.extra_fields = extra_fields
