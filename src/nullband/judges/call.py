"""One judge: a chat endpoint, its reply cache, and its token and cost accounting.

A :class:`Judge` asks a question and returns the reply text (or the error), reading and
writing the content cache unless told not to, and counting calls, cache hits, tokens and
cost. The transport is any :class:`ChatFn`; :func:`target_chat_fn` adapts the runner's
``TargetClient`` (retries that never change model, rate limits, the shared budget).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, Field

from nullband.judges.cache import JudgeCache, cache_key


@dataclass(frozen=True, slots=True)
class JudgeReply:
    """What one judge call gave back.

    Attributes:
        text: the reply text, or None when the call failed.
        error: why the call failed (None on success).
        input_tokens: prompt tokens billed (0 for a cache hit).
        output_tokens: completion tokens billed (0 for a cache hit).
        cost_usd: cost of this call (0 for a cache hit).
        cached: True when the reply came from the cache.
        served: the model the server said served the call, when known.
        mismatch: True when the served (or routed) model differs from the pinned one.
    """

    text: str | None
    error: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    cached: bool = False
    served: str | None = None
    mismatch: bool = False


class ChatFn(Protocol):
    """An async chat call: messages and sampling params in, a :class:`JudgeReply` out."""

    async def __call__(
        self, messages: list[dict[str, Any]], *, params: dict[str, Any], case_key: str | None
    ) -> JudgeReply:
        """Send one chat request."""
        ...


class JudgeUsage(BaseModel):
    """Calls, cache hits, tokens and cost of one judge."""

    judge: str = Field(description="The judge's target name.")
    model: str = Field(description="The judge's pinned model.")
    calls: int = Field(default=0, description="Requests sent (cache hits not counted).")
    cache_hits: int = Field(default=0, description="Replies served from the judge cache.")
    errors: int = Field(default=0, description="Calls that returned no reply.")
    unparsed: int = Field(default=0, description="Replies with no readable grade or verdict.")
    input_tokens: int = Field(default=0, description="Prompt tokens billed.")
    output_tokens: int = Field(default=0, description="Completion tokens billed.")
    cost_usd: float = Field(default=0.0, description="USD billed, from the target's prices.")
    served_models: list[str] = Field(
        default_factory=list, description="Models the server said served the calls."
    )
    model_mismatches: int = Field(
        default=0, description="Calls served by another model than the pinned one."
    )


class Judge:
    """A judge endpoint with caching and accounting.

    Args:
        name: the judge's target name (used in reports and cache rows).
        model: its pinned model string (part of the cache key).
        base_url: its endpoint (part of the cache key).
        chat: the transport.
        cache: a :class:`JudgeCache`, or None for no caching.
        params: sampling params sent with every call (e.g. temperature).
        usage: an accounting object to keep adding to (default: a new one).
        ledger: where usage is also written per run id (the cache file, typically).
    """

    def __init__(
        self,
        *,
        name: str,
        model: str,
        base_url: str,
        chat: ChatFn,
        cache: JudgeCache | None = None,
        params: dict[str, Any] | None = None,
        usage: JudgeUsage | None = None,
        ledger: JudgeCache | None = None,
    ) -> None:
        self.name = name
        self.model = model
        self.base_url = base_url
        self.chat = chat
        self.cache = cache
        self.params = dict(params or {})
        # updated from many tasks of one event loop; each update runs between awaits,
        # so no lock is needed
        self.usage = usage if usage is not None else JudgeUsage(judge=name, model=model)
        self.ledger = ledger

    async def ask(
        self,
        messages: list[dict[str, Any]],
        *,
        sample: int = 0,
        use_cache: bool = True,
        case_key: str | None = None,
        run_id: str | None = None,
    ) -> JudgeReply:
        """Ask the judge once.

        Args:
            messages: the chat messages of the judge prompt.
            sample: which sample this is (repeats at a temperature differ by it).
            use_cache: read and write the cache (False when measuring consistency).
            case_key: sent as the ``X-Nullband-Case`` header by the transport.
            run_id: the eval run this call scores; its usage goes to the ledger.
        """
        key = cache_key(
            base_url=self.base_url,
            model=self.model,
            messages=messages,
            params=self.params,
            sample=sample,
        )
        if use_cache and self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                self.usage.cache_hits += 1
                self._ledger(run_id, cache_hits=1)
                return JudgeReply(text=hit.text, cached=True)
        reply = await self.chat(messages, params=self.params, case_key=case_key)
        self.usage.calls += 1
        self.usage.input_tokens += reply.input_tokens
        self.usage.output_tokens += reply.output_tokens
        self.usage.cost_usd += reply.cost_usd
        if reply.served is not None and reply.served not in self.usage.served_models:
            self.usage.served_models.append(reply.served)
        self.usage.model_mismatches += int(reply.mismatch)
        self._ledger(
            run_id,
            calls=1,
            errors=int(reply.text is None),
            input_tokens=reply.input_tokens,
            output_tokens=reply.output_tokens,
            cost_usd=reply.cost_usd,
        )
        if reply.text is None:
            self.usage.errors += 1
        elif use_cache and self.cache is not None:
            self.cache.put(
                key,
                judge=self.name,
                model=self.model,
                text=reply.text,
                input_tokens=reply.input_tokens,
                output_tokens=reply.output_tokens,
                cost_usd=reply.cost_usd,
            )
        return reply

    def count_unparsed(self, run_id: str | None = None) -> None:
        """Count one reply whose grade or verdict could not be read."""
        self.usage.unparsed += 1
        self._ledger(run_id, unparsed=1)

    def _ledger(self, run_id: str | None, **deltas: float) -> None:
        if self.ledger is not None and run_id is not None:
            self.ledger.add_usage(run_id, self.name, self.model, **deltas)
