"""A lean streaming client for the load hot path: one POST, read SSE, timestamp events.

Kept apart from the runner's client on purpose: no retries, no pydantic, no logging per
chunk. Each arrival of bytes is timestamped once, in the connection's ``data_received``
callback (:class:`StampingHandler`), the first Python code that runs when the event loop
learns the socket is readable: before HTTP parsing, before the reading task resumes,
before JSON decoding. Every event parsed from that data gets that time, so the client's
own parsing and scheduling delays do not count as server latency (if the client falls
behind, events arrive coalesced and the record says so in ``events_per_read_max``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from types import SimpleNamespace
from typing import Any

import aiohttp
import orjson
from aiohttp.client_proto import ResponseHandler

from nullband.targets.config import TargetConfig

_mono = time.monotonic_ns

DRAIN_S = 0.5
"""How long to wait for the end of a body after its ``[DONE]`` event."""


class StampingHandler(ResponseHandler):
    """aiohttp's client protocol, stamping when each piece of data arrived.

    ``rx_ns`` is the CLOCK_MONOTONIC time of the latest ``data_received`` call. A
    connection goes back to the pool only once its response's end has been received,
    and the reading task resumes before any later response on it can arrive, so a
    request never reads another request's stamp.
    """

    rx_ns = 0

    def data_received(self, data: bytes) -> None:
        self.rx_ns = _mono()
        super().data_received(data)


def stamping_connector(**kwargs: Any) -> aiohttp.TCPConnector:
    """A ``TCPConnector`` whose connections use :class:`StampingHandler`.

    aiohttp has no public hook for the protocol class; when its private factory
    attribute is missing (another aiohttp version) the connector is returned as it is
    and :func:`stream_request` stamps after each read instead.
    """
    conn = aiohttp.TCPConnector(**kwargs)
    factory = getattr(conn, "_factory", None)
    if isinstance(factory, functools.partial) and factory.func is ResponseHandler:
        stamping = functools.partial(StampingHandler, *factory.args, **factory.keywords)
        conn._factory = stamping  # type: ignore[assignment]  # a subclass: same protocol
    return conn


class RawRequest:
    """Mutable per-request timestamps filled in by :func:`stream_request` (hot path)."""

    __slots__ = (
        "body",
        "cached_tokens",
        "call_ns",
        "completion_tokens",
        "dispatch_ns",
        "end_ns",
        "error",
        "ev_ns",
        "ev_tok",
        "events_per_read_max",
        "finish_reason",
        "first_event_ns",
        "first_token_ns",
        "headers_ns",
        "http_status",
        "idx",
        "inflight_at_send",
        "last_token_ns",
        "planned_ns",
        "prompt_tokens",
        "send_ns",
        "status",
        "token_source",
    )

    def __init__(self, idx: int, planned_ns: int, body: bytes) -> None:
        self.idx = idx
        self.planned_ns = planned_ns  # absolute CLOCK_MONOTONIC ns
        self.body = body
        self.dispatch_ns = 0
        self.call_ns = 0  # the POST call began
        self.send_ns = 0  # the request was written to the socket (0: not yet)
        self.headers_ns = 0
        self.first_event_ns = 0
        self.first_token_ns = 0
        self.last_token_ns = 0
        self.end_ns = 0
        self.ev_ns: list[int] = []
        self.ev_tok: list[int] = []
        self.events_per_read_max = 0
        self.token_source = "chunks"
        self.prompt_tokens: int | None = None
        self.completion_tokens: int | None = None
        self.cached_tokens: int | None = None
        self.finish_reason: str | None = None
        self.http_status: int | None = None
        self.status = "not_sent"
        self.error: str | None = None
        self.inflight_at_send = 0


def request_body(
    target: TargetConfig,
    prompt: str,
    output_tokens: int,
    *,
    pin: str = "vllm",
    continuous_usage: bool = True,
) -> bytes:
    """The chat-completions body with the output length pinned.

    ``pin="vllm"`` sends ``min_tokens`` and ``ignore_eos`` too (vLLM and the nullband test
    server honour them), so the server generates exactly ``output_tokens``.
    """
    body: dict[str, Any] = dict(target.params)
    body.update(
        {
            "model": target.model,
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": output_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    )
    if continuous_usage:
        body["stream_options"]["continuous_usage_stats"] = True
    if pin == "vllm":
        body["min_tokens"] = output_tokens
        body["ignore_eos"] = True
    return orjson.dumps(body)


def request_headers(target: TargetConfig) -> dict[str, str]:
    """Headers for every request (key from the environment, never stored)."""
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
    headers.update(target.headers)
    key = target.api_key()
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return headers


async def _on_sent(
    session: aiohttp.ClientSession,
    ctx: SimpleNamespace,
    params: aiohttp.TraceRequestChunkSentParams,
) -> None:
    raw = ctx.trace_request_ctx
    if isinstance(raw, RawRequest) and not raw.send_ns:
        raw.send_ns = _mono()


def send_tracer() -> aiohttp.TraceConfig:
    """A trace config that stamps ``send_ns`` when the request body reaches the socket.

    The POST call itself (building the request, taking a pooled connection) costs the
    client a few hundred microseconds; stamping the send when the bytes leave keeps that
    client time out of TTFT and puts it in the dispatch lag, where validity judges it.
    """
    tc = aiohttp.TraceConfig()
    tc.on_request_chunk_sent.append(_on_sent)
    tc.on_request_headers_sent.append(_on_headers)
    tc.freeze()
    return tc


async def _on_headers(
    session: aiohttp.ClientSession,
    ctx: SimpleNamespace,
    params: aiohttp.TraceRequestHeadersSentParams,
) -> None:
    # a request without a body has no chunk: its headers are the whole request
    raw = ctx.trace_request_ctx
    if isinstance(raw, RawRequest) and not raw.body and not raw.send_ns:
        raw.send_ns = _mono()


def _usage(raw: RawRequest, usage: dict[str, Any]) -> None:
    pt = usage.get("prompt_tokens")
    ct = usage.get("completion_tokens")
    if isinstance(pt, int):
        raw.prompt_tokens = pt
    if isinstance(ct, int):
        raw.completion_tokens = ct
    details = usage.get("prompt_tokens_details")
    if isinstance(details, dict) and isinstance(details.get("cached_tokens"), int):
        raw.cached_tokens = details["cached_tokens"]


async def stream_request(
    session: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    raw: RawRequest,
    timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109 - aiohttp's own per-request timeout
) -> None:
    """Send one streaming request and fill ``raw``; never raises (the outcome is recorded)."""
    last_ct = 0
    done = False
    raw.call_ns = _mono()
    try:
        async with session.post(
            url, data=raw.body, headers=headers, timeout=timeout, trace_request_ctx=raw
        ) as resp:
            raw.headers_ns = _mono()
            raw.http_status = resp.status
            if resp.status != 200:
                text = await resp.read()
                raw.end_ns = _mono()
                raw.status = "http_error"
                raw.error = f"HTTP {resp.status}: {text[:200].decode('utf-8', 'replace')}"
                return
            content = resp.content
            proto = resp.connection.protocol if resp.connection is not None else None
            stamped = isinstance(proto, StampingHandler)
            buf = b""
            ev_ns = raw.ev_ns
            ev_tok = raw.ev_tok
            while not done:
                chunk = await content.readany()
                if not chunk:
                    break
                t = proto.rx_ns if stamped else _mono()  # type: ignore[union-attr]
                if b"\r" in chunk:
                    chunk = chunk.replace(b"\r\n", b"\n")
                buf += chunk
                per_read = 0
                while True:
                    j = buf.find(b"\n\n")
                    if j < 0:
                        break
                    block = buf[:j]
                    buf = buf[j + 2 :]
                    for line in block.split(b"\n"):
                        if not line.startswith(b"data:"):
                            continue
                        payload = line[5:].strip()
                        if payload == b"[DONE]":
                            done = True
                            continue
                        obj = orjson.loads(payload)
                        if "error" in obj and not obj.get("choices"):
                            raise ValueError(f"the stream carried an error: {obj['error']}")
                        usage = obj.get("usage")
                        choices = obj.get("choices")
                        if choices:
                            ch = choices[0]
                            if usage and isinstance(usage.get("completion_tokens"), int):
                                ct = usage["completion_tokens"]
                                d = ct - last_ct
                                last_ct = ct
                                raw.token_source = "usage"
                            else:
                                delta = ch.get("delta") or {}
                                d = (
                                    1
                                    if (
                                        delta.get("content")
                                        or delta.get("reasoning_content")
                                        or delta.get("reasoning")
                                        or delta.get("tool_calls")
                                    )
                                    else 0
                                )
                            if not raw.first_event_ns:
                                raw.first_event_ns = t
                            ev_ns.append(t)
                            ev_tok.append(d)
                            if d > 0:
                                per_read += 1
                                if not raw.first_token_ns:
                                    raw.first_token_ns = t
                                raw.last_token_ns = t
                            fr = ch.get("finish_reason")
                            if fr:
                                raw.finish_reason = fr
                        if usage:
                            _usage(raw, usage)
                if per_read > raw.events_per_read_max:
                    raw.events_per_read_max = per_read
            raw.end_ns = _mono()
            if not raw.first_token_ns:
                raw.status = "incomplete"
                raw.error = "the stream carried no tokens"
            elif done or raw.finish_reason is not None:
                raw.status = "ok"
            else:
                raw.status = "incomplete"
                raw.error = "the stream ended without [DONE] or a finish_reason"
            if done and not content.at_eof():
                # Read the end of the body too (it follows [DONE] at once): a response
                # left unread makes aiohttp close the connection, and a new connection per
                # request costs both sides a connect (and more than doubled the client's
                # CPU per request against a zero-latency server).
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(DRAIN_S):
                        while await content.readany():
                            pass
    except TimeoutError:
        raw.end_ns = _mono()
        raw.status = "timeout"
        raw.error = f"no complete response within {timeout.total} s"
    except aiohttp.ClientConnectorError as exc:
        raw.end_ns = _mono()
        raw.status = "connect_error"
        raw.error = str(exc)[:300]
    except (aiohttp.ClientError, orjson.JSONDecodeError, ValueError, AttributeError) as exc:
        raw.end_ns = _mono()
        raw.status = "stream_error"
        raw.error = f"{type(exc).__name__}: {str(exc)[:300]}"
