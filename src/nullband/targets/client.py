"""The target client: OpenAI-compatible chat completions over one pooled HTTP session.

One :class:`TargetClient` per target holds one keep-alive connection pool
(:class:`~nullband.targets.http1.Http1Pool`) and admits at most the target's concurrency
of calls at a time. :meth:`TargetClient.chat` sends one call, retries
it under the retry policy (same model, same provider, every attempt recorded), charges
the budget and returns a :class:`CallOutcome`; it never raises for a failed call.

The API key is read from the target's environment variable when the client opens and
goes into the ``Authorization`` header only. Every error text the client produces is
scrubbed of the key, in case a server echoes it back.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal

import orjson

from nullband.config.models import RetryConfig
from nullband.errors import UsageError
from nullband.records import Attempt, ErrorClass, Provenance, ToolCall, Usage
from nullband.targets._fast import build
from nullband.targets.budget import Budget
from nullband.targets.config import TargetConfig
from nullband.targets.gateways import GatewayInfo, model_matches, profile_for
from nullband.targets.http1 import Http1Pool, ProtocolError, TransportError
from nullband.targets.parse import Completion, MalformedResponse, StreamAccumulator, parse_body
from nullband.targets.ratelimit import RateLimiter
from nullband.targets.retry import Backoff, classify_status, parse_retry_after

CASE_HEADER = "X-Nullband-Case"
_ERROR_SNIPPET = 300


@dataclass(slots=True)
class CallOutcome:
    """The result of one logical call (all its attempts)."""

    status: Literal["ok", "error"]
    provenance: Provenance
    request_hash: str
    attempts: list[Attempt]
    output_text: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    latency_s: float | None = None
    ttft_s: float | None = None
    cost_usd: float = 0.0
    error: str | None = None
    error_class: ErrorClass | None = None
    message: dict[str, Any] | None = None
    """The raw assistant message (for multi-step playback)."""
    gateway: GatewayInfo | None = None
    """What the gateway said (including its own retries, which Provenance lacks)."""


@dataclass(slots=True)
class _Failure:
    error_class: ErrorClass
    retryable: bool
    error: str
    status: int | None = None
    retry_after_s: float | None = None


class TargetClient:
    """Calls one target. Use as an async context manager.

    Args:
        target: the endpoint and pinned model.
        retry: retry policy (default: :class:`RetryConfig` defaults).
        budget: shared spending caps; ``chat`` raises :class:`BudgetExceeded` when no new
            call may start.
        seed: seed of the backoff jitter.

    Raises:
        UsageError: on entering, when the target's key variable is unset.

    Example:
        >>> async def main(target):  # doctest: +SKIP
        ...     async with TargetClient(target) as client:
        ...         out = await client.chat([{"role": "user", "content": "hi"}])
        ...         return out.output_text
    """

    def __init__(
        self,
        target: TargetConfig,
        retry: RetryConfig | None = None,
        budget: Budget | None = None,
        *,
        seed: int = 0,
    ) -> None:
        self.target = target
        self.retry = retry or RetryConfig()
        self.budget = budget
        self._backoff = Backoff(self.retry, seed=seed)
        self._profile = profile_for(target.gateway)
        self._path = "/chat/completions"
        self._limiter = RateLimiter(target.rpm) if target.rpm else None
        self._key: str | None = None
        self._pool: Http1Pool | None = None
        self._sem: asyncio.Semaphore | None = None

    async def __aenter__(self) -> TargetClient:
        self._key = self.target.api_key()
        headers = {"Content-Type": "application/json", **self._profile.static_headers}
        headers.update(self.target.headers)
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        try:
            self._pool = Http1Pool(self.target.base_url, headers, max_idle=self.target.concurrency)
        except ValueError as exc:
            raise UsageError(
                f"target {self.target.name!r}: {exc}",
                hint="check the target's base_url and headers in the config",
            ) from None
        self._sem = asyncio.Semaphore(self.target.concurrency)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def scrub(self, text: str) -> str:
        """``text`` with the API key (if any) replaced by ``[redacted]``."""
        if self._key and self._key in text:
            return text.replace(self._key, "[redacted]")
        return text

    def build_body(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        params: dict[str, Any] | None = None,
    ) -> bytes:
        """The request body as canonical JSON bytes (sorted keys, so its hash is stable)."""
        body: dict[str, Any] = {**self.target.params, **(params or {})}
        body["model"] = self.target.model
        if self.target.system_prompt is not None:
            messages = [{"role": "system", "content": self.target.system_prompt}, *messages]
        body["messages"] = messages
        if tools:
            body["tools"] = tools
        body.update(self._profile.body_extras)
        if self.target.stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)

    async def chat(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        *,
        case_key: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> CallOutcome:
        """Send one chat completion, retrying transient failures on the same model.

        Args:
            messages: OpenAI chat messages.
            tools: OpenAI tool definitions, if any.
            case_key: ``case_id/target/epoch``, sent as ``X-Nullband-Case``.
            params: sampling params overriding the target's.

        Returns:
            A :class:`CallOutcome` with status ``ok`` or ``error`` (never raises for a
            failed call).

        Raises:
            BudgetExceeded: a budget cap was reached before the call started.
            UsageError: the client was not opened with ``async with``.
        """
        if self._pool is None or self._sem is None:
            raise UsageError("TargetClient used outside 'async with'")
        payload = self.build_body(messages, tools, params)
        request_hash = hashlib.sha256(payload).hexdigest()[:16]
        headers: dict[str, str] = {}
        if case_key is not None:
            headers[CASE_HEADER] = case_key
            if self._profile.case_header:
                headers[self._profile.case_header] = case_key
        reservation = self.budget.reserve() if self.budget is not None else None
        outcome: CallOutcome | None = None
        try:
            async with self._sem:
                outcome = await self._call(payload, headers, request_hash)
        finally:
            if reservation is not None and self.budget is not None:
                if outcome is None:
                    self.budget.release(reservation)
                else:
                    u = outcome.usage
                    self.budget.settle(
                        reservation,
                        usd=outcome.cost_usd,
                        tokens=u.input_tokens + u.output_tokens,
                    )
        return outcome

    async def _call(self, payload: bytes, headers: dict[str, str], rhash: str) -> CallOutcome:
        attempts: list[Attempt] = []
        max_attempts = self.retry.max_attempts
        failure: _Failure | None = None
        for n in range(1, max_attempts + 1):
            if self._limiter is not None:
                await self._limiter.acquire()
            started = datetime.now(UTC)
            t0 = time.perf_counter()
            result = await self._attempt(payload, headers, t0)
            latency = time.perf_counter() - t0
            if isinstance(result, _Failure):
                failure = result
                attempts.append(
                    build(
                        Attempt,
                        {
                            "n": n,
                            "started_at": started,
                            "latency_s": latency,
                            "status": result.status,
                            "error_class": result.error_class,
                            "error": result.error,
                            "retry_after_s": result.retry_after_s,
                        },
                    )
                )
                if not result.retryable or n == max_attempts:
                    break
                await asyncio.sleep(self._backoff.delay(n, result.retry_after_s))
                continue
            comp, resp_headers, ttft, status = result
            attempts.append(
                build(
                    Attempt,
                    {
                        "n": n,
                        "started_at": started,
                        "latency_s": latency,
                        "status": status,
                        "error_class": None,
                        "error": None,
                        "retry_after_s": None,
                    },
                )
            )
            return self._success(comp, resp_headers, ttft, latency, attempts, rhash)
        assert failure is not None
        return CallOutcome(
            status="error",
            provenance=Provenance(requested=self.target.model),
            request_hash=rhash,
            attempts=attempts,
            error=f"{failure.error} (after {len(attempts)} attempt(s))",
            error_class=failure.error_class,
        )

    def _success(
        self,
        comp: Completion,
        resp_headers: Any,
        ttft: float | None,
        latency: float,
        attempts: list[Attempt],
        rhash: str,
    ) -> CallOutcome:
        target = self.target
        gw = self._profile.parse(resp_headers, comp.body)
        mismatch = not model_matches(target.model, comp.model) or not model_matches(
            target.model, gw.routed
        )
        prov = build(
            Provenance,
            {
                "requested": target.model,
                "routed": gw.routed,
                "served": comp.model,
                "fingerprint": comp.fingerprint,
                "provider": gw.provider,
                "cache": gw.cache,
                "fallback": gw.fallback,
                "mismatch": mismatch,
                "gateway_retries": gw.retries,
            },
        )
        usage = build(
            Usage,
            {
                "input_tokens": comp.input_tokens,
                "output_tokens": comp.output_tokens,
                "cached_tokens": comp.cached_tokens,
            },
        )
        cost = target.prices.cost(comp.input_tokens, comp.output_tokens, comp.cached_tokens)
        return CallOutcome(
            status="ok",
            provenance=prov,
            request_hash=rhash,
            attempts=attempts,
            output_text=comp.text,
            tool_calls=comp.tool_calls,
            finish_reason=comp.finish_reason,
            usage=usage,
            latency_s=latency,
            ttft_s=ttft,
            cost_usd=cost,
            message=comp.message,
            gateway=gw,
        )

    async def _attempt(
        self, payload: bytes, headers: dict[str, str], t0: float
    ) -> _Failure | tuple[Completion, Any, float | None, int]:
        pool = self._pool
        assert pool is not None
        resp = None
        try:
            async with asyncio.timeout(self.target.timeout_s):
                resp = await pool.post(self._path, payload, headers)
                status = resp.status
                if status >= 400:
                    snippet = (await resp.read())[:_ERROR_SNIPPET].decode("utf-8", "replace")
                    eclass, retryable = classify_status(status)
                    return _Failure(
                        eclass,
                        retryable,
                        self.scrub(f"HTTP {status}: {snippet}".strip()),
                        status=status,
                        retry_after_s=parse_retry_after(resp.headers.get("retry-after")),
                    )
                if self.target.stream:
                    acc = StreamAccumulator()
                    ttft: float | None = None
                    async for line in resp.lines():
                        if acc.feed(line) and ttft is None:
                            ttft = time.perf_counter() - t0
                    return acc.result(), resp.headers, ttft, status
                return parse_body(await resp.read()), resp.headers, None, status
        except MalformedResponse as exc:
            return _Failure("malformed", True, self.scrub(str(exc)), status=200)
        except TimeoutError:
            return _Failure("timeout", True, f"timed out after {self.target.timeout_s:g}s")
        except ProtocolError as exc:
            return _Failure("malformed", True, self.scrub(f"bad HTTP response: {exc}"))
        except (TransportError, OSError) as exc:
            return _Failure("connection", True, self.scrub(f"{type(exc).__name__}: {exc}"))
        finally:
            if resp is not None:
                pool.release(resp)
