"""Provenance headers as Bifrost, LiteLLM or Portkey would send them.

Header names follow ../shared/reference/traces-and-gateways.md (sections 2, 3 and 9).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nullband.testserver.config import GatewayConfig
from nullband.testserver.faults import unit


@dataclass(slots=True)
class GatewayAnswer:
    """What the gateway layer adds to one answer."""

    served: str
    provider: str
    fallback: bool
    cache_hit: bool
    headers: dict[str, str] = field(default_factory=dict)
    extra_fields: dict[str, Any] | None = None


def _bypasses_cache(style: str, headers: Mapping[str, str], body: Mapping[str, Any]) -> bool:
    if style == "bifrost":
        # Bifrost caches only when a cache key is sent.
        return "x-bf-cache-key" not in headers or headers.get("x-bf-cache-no-store") == "true"
    if style == "litellm":
        cache = body.get("cache")
        return isinstance(cache, dict) and bool(cache.get("no-cache"))
    if style == "portkey":
        return headers.get("x-portkey-cache-force-refresh", "").lower() == "true"
    return True


def gateway_answer(
    cfg: GatewayConfig,
    *,
    seed: int,
    draw_key: str,
    attempt: int,
    requested: str,
    served: str,
    headers: Mapping[str, str],
    body: Mapping[str, Any],
    elapsed_ms: float,
) -> GatewayAnswer:
    """The provenance of one answer in ``cfg.style`` (nothing for style 'none')."""
    fallback = (
        cfg.fallback_rate > 0 and unit(seed, "fallback", draw_key, attempt) < cfg.fallback_rate
    )
    provider = cfg.fallback_provider if fallback else cfg.provider
    if fallback:
        served = cfg.fallback_model
    bypass = _bypasses_cache(cfg.style, headers, body)
    cache_hit = (
        not bypass
        and cfg.cache_hit_rate > 0
        and unit(seed, "cache", draw_key, attempt) < cfg.cache_hit_rate
    )
    ans = GatewayAnswer(served=served, provider=provider, fallback=fallback, cache_hit=cache_hit)
    h = ans.headers
    if cfg.style == "bifrost":
        rid = headers.get("x-request-id") or uuid.uuid4().hex
        h["x-bifrost-request-id"] = rid
        h["x-bifrost-trace-id"] = uuid.uuid4().hex
        h["x-bifrost-provider"] = provider
        h["x-bifrost-original-model"] = requested
        h["x-bifrost-resolved-model"] = served
        h["x-bifrost-request-type"] = "chat_completion"
        h["x-bifrost-routing-info-provider"] = provider
        h["x-bifrost-routing-info-model"] = served
        h["x-bifrost-upstream-latency-ms"] = f"{elapsed_ms:.0f}"
        if fallback:
            h["x-bifrost-fallback-index"] = "1"
            h["x-bifrost-routing-info-is-fallback"] = "true"
            h["x-bifrost-routing-info-primary-provider"] = cfg.provider
        ans.extra_fields = {
            "request_type": "chat_completion",
            "provider": provider,
            "original_model_requested": requested,
            "resolved_model_used": served,
            "latency": round(elapsed_ms, 3),
            "routing_info": {"provider": provider, "model": served, "is_fallback": fallback},
        }
        if cache_hit:
            ans.extra_fields["cache_debug"] = {
                "cache_hit": True,
                "hit_type": "direct",
                "provider_used": provider,
                "model_used": served,
            }
    elif cfg.style == "litellm":
        h["x-litellm-call-id"] = headers.get("x-litellm-call-id") or str(uuid.uuid4())
        h["x-litellm-model-id"] = hashlib.sha256(f"{provider}/{served}".encode()).hexdigest()
        h["x-litellm-model-group"] = requested
        h["x-litellm-model-api-base"] = f"http://{provider}.invalid/v1"
        h["x-litellm-attempted-retries"] = "0"
        h["x-litellm-attempted-fallbacks"] = "1" if fallback else "0"
        h["x-litellm-response-duration-ms"] = f"{elapsed_ms:.3f}"
        h["x-litellm-response-cost"] = "0.0"
        if cache_hit:
            h["x-litellm-cache-key"] = hashlib.sha256(
                repr(body.get("messages")).encode()
            ).hexdigest()
    elif cfg.style == "portkey":
        h["x-portkey-trace-id"] = headers.get("x-portkey-trace-id") or uuid.uuid4().hex
        h["x-portkey-retry-attempt-count"] = "0"
        if cache_hit:
            h["x-portkey-cache-status"] = "HIT"
        elif headers.get("x-portkey-cache-force-refresh", "").lower() == "true":
            h["x-portkey-cache-status"] = "REFRESH"
        else:
            h["x-portkey-cache-status"] = "DISABLED" if bypass else "MISS"
        h["x-portkey-last-used-option-index"] = "1" if fallback else "0"
    return ans
