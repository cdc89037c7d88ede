"""Gateway profiles: what to send so eval traffic is not cached or re-routed, and how to
read back who served a call.

Each profile knows one gateway's conventions (see docs/runner.md for the sources):

- ``none``: a plain OpenAI-compatible server (vLLM, llama.cpp, OpenAI). Nothing extra.
- ``bifrost``: no cache key is sent (Bifrost caches only when one is present) and no
  ``fallbacks`` in the body; ``x-request-id`` carries the case key. Reads
  ``x-bifrost-*`` headers and the body's ``extra_fields``.
- ``litellm``: body ``cache: {no-cache, no-store}``, ``disable_fallbacks``, header
  ``x-litellm-num-retries: 0`` (nullband does its own retries, and counts them).
  Reads ``x-litellm-*`` headers.
- ``portkey``: ``x-portkey-cache-force-refresh: true``; the case key goes into
  ``x-portkey-trace-id``. Reads ``x-portkey-*`` headers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from nullband.records import CacheStatus
from nullband.targets.config import GatewayKind


@dataclass(slots=True)
class GatewayInfo:
    """What a gateway said about one response."""

    routed: str | None = None
    provider: str | None = None
    cache: CacheStatus = "unknown"
    fallback: bool = False
    retries: int | None = None


class _Headers(Protocol):
    def get(self, key: str, default: None = None) -> str | None: ...


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def _truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() in {"1", "true", "yes"}


class GatewayProfile:
    """Base profile (``none``): no extra headers, no provenance headers."""

    kind: GatewayKind = "none"
    static_headers: ClassVar[Mapping[str, str]] = {}
    body_extras: ClassVar[Mapping[str, Any]] = {}
    case_header: ClassVar[str | None] = None
    """Header that carries the case key for the gateway's own logs, if any."""

    def parse(self, headers: _Headers, body: Mapping[str, Any] | None) -> GatewayInfo:
        """Read routed model, provider, cache status, fallback and retries."""
        del headers, body
        return GatewayInfo()


class BifrostProfile(GatewayProfile):
    """Bifrost: routing facts in ``x-bifrost-*`` headers and ``extra_fields``."""

    kind: GatewayKind = "bifrost"
    case_header: ClassVar[str | None] = "x-request-id"

    def parse(self, headers: _Headers, body: Mapping[str, Any] | None) -> GatewayInfo:
        info = GatewayInfo()
        extra = body.get("extra_fields") if body else None
        extra = extra if isinstance(extra, dict) else {}
        routing = extra.get("routing_info")
        routing = routing if isinstance(routing, dict) else {}
        info.routed = (
            headers.get("x-bifrost-routing-info-model")
            or headers.get("x-bifrost-resolved-model")
            or _str(routing.get("model"))
            or _str(extra.get("resolved_model_used"))
            or _str(extra.get("model_deployment"))
        )
        info.provider = (
            headers.get("x-bifrost-routing-info-provider")
            or headers.get("x-bifrost-provider")
            or _str(routing.get("provider"))
            or _str(extra.get("provider"))
        )
        fb_index = _int(headers.get("x-bifrost-fallback-index"))
        info.fallback = (
            (fb_index is not None and fb_index > 0)
            or _truthy(headers.get("x-bifrost-routing-info-is-fallback"))
            or routing.get("is_fallback") is True
        )
        cache_debug = extra.get("cache_debug")
        if isinstance(cache_debug, dict) and "cache_hit" in cache_debug:
            info.cache = "hit" if cache_debug.get("cache_hit") is True else "miss"
        else:
            # Bifrost's cache runs only when the request carries a cache key; we send none.
            info.cache = "bypass"
        return info


class LiteLLMProfile(GatewayProfile):
    """LiteLLM proxy: ``x-litellm-*`` response headers."""

    kind: GatewayKind = "litellm"
    static_headers: ClassVar[Mapping[str, str]] = {"x-litellm-num-retries": "0"}
    body_extras: ClassVar[Mapping[str, Any]] = {
        "cache": {"no-cache": True, "no-store": True},
        "disable_fallbacks": True,
    }
    case_header: ClassVar[str | None] = "x-litellm-call-id"

    def parse(self, headers: _Headers, body: Mapping[str, Any] | None) -> GatewayInfo:
        del body
        info = GatewayInfo()
        # x-litellm-model-id is a deployment hash, not a model name: it is not "routed".
        info.provider = headers.get("x-litellm-model-api-base")
        info.retries = _int(headers.get("x-litellm-attempted-retries"))
        fallbacks = _int(headers.get("x-litellm-attempted-fallbacks"))
        info.fallback = fallbacks is not None and fallbacks > 0
        # LiteLLM returns a cache key only when the response came from its cache.
        info.cache = "hit" if headers.get("x-litellm-cache-key") else "bypass"
        return info


class PortkeyProfile(GatewayProfile):
    """Portkey: ``x-portkey-*`` response headers."""

    kind: GatewayKind = "portkey"
    static_headers: ClassVar[Mapping[str, str]] = {"x-portkey-cache-force-refresh": "true"}
    case_header: ClassVar[str | None] = "x-portkey-trace-id"

    def parse(self, headers: _Headers, body: Mapping[str, Any] | None) -> GatewayInfo:
        del body
        info = GatewayInfo()
        info.retries = _int(headers.get("x-portkey-retry-attempt-count"))
        index = _int(headers.get("x-portkey-last-used-option-index"))
        info.fallback = index is not None and index > 0
        status = (headers.get("x-portkey-cache-status") or "").strip().upper()
        if status in {"HIT", "SEMANTIC HIT"}:
            info.cache = "hit"
        elif status == "MISS":
            info.cache = "miss"
        elif status in {"DISABLED", "REFRESH"}:
            info.cache = "bypass"
        return info


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


_PROFILES: dict[str, GatewayProfile] = {
    "none": GatewayProfile(),
    "bifrost": BifrostProfile(),
    "litellm": LiteLLMProfile(),
    "portkey": PortkeyProfile(),
}


def profile_for(kind: GatewayKind) -> GatewayProfile:
    """The profile of a gateway kind."""
    return _PROFILES[kind]


def strip_provider(model: str) -> str:
    """``openai/gpt-4o-2024-08-06`` -> ``gpt-4o-2024-08-06`` (gateway provider prefix)."""
    return model.split("/", 1)[1] if "/" in model else model


def model_matches(pinned: str, reported: str | None) -> bool:
    """Whether a served or routed model string names the pinned model.

    Equal strings match; so does the pinned string without its ``provider/`` prefix
    (gateways take ``openai/gpt-4o-...`` and the provider answers ``gpt-4o-...``). None
    (nothing reported) matches, as there is no evidence of a different model.
    """
    if reported is None or reported == pinned:
        return True
    return strip_provider(reported) == strip_provider(pinned)
