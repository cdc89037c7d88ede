"""Gateway logs: LiteLLM spend logs and Bifrost log rows (JSONL, JSON array or CSV export).

Every field is optional and several spellings are accepted, because both gateways change
their schemas between releases (see docs/traces.md for the columns read).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from nullband.errors import InputError
from nullband.traces.ingest._io import iter_records, maybe_json
from nullband.traces.ingest._messages import from_parts_messages, openai_message
from nullband.traces.schema import Step, StepUsage


def _time(v: Any) -> datetime | None:
    if v in (None, ""):
        return None
    if isinstance(v, int | float):
        return datetime.fromtimestamp(float(v) / (1000 if v > 1e11 else 1), tz=UTC)
    try:
        t = datetime.fromisoformat(str(v).replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _int(v: Any) -> int:
    try:
        return int(float(v)) if v not in (None, "") else 0
    except (TypeError, ValueError):
        return 0


def _float(v: Any) -> float | None:
    try:
        return float(v) if v not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _truthy(v: Any) -> bool:
    return str(v).strip().lower() in ("true", "1", "yes", "hit")


def _headers(row: dict[str, Any]) -> dict[str, str]:
    """Recorded response headers, wherever the export put them (lower-cased names)."""
    meta = maybe_json(row.get("metadata")) or {}
    found: dict[str, Any] = {}
    for cand in (
        row.get("response_headers"),
        meta.get("response_headers") if isinstance(meta, dict) else None,
        ((meta.get("hidden_params") or {}).get("additional_headers"))
        if isinstance(meta, dict)
        else None,
    ):
        cand = maybe_json(cand)
        if isinstance(cand, dict):
            found.update(cand)
    return {str(k).lower(): str(v) for k, v in found.items() if v is not None}


def litellm_row_to_step(row: dict[str, Any], ref: str) -> Step:
    """One ``LiteLLM_SpendLogs`` row as a :class:`Step`."""
    meta = maybe_json(row.get("metadata"))
    meta = meta if isinstance(meta, dict) else {}
    custom = meta.get("spend_logs_metadata") or {}
    custom = custom if isinstance(custom, dict) else {}
    hdr = _headers(row)
    start, end = _time(row.get("startTime")), _time(row.get("endTime"))
    duration = _float(row.get("request_duration_ms"))
    if duration is None and start and end:
        duration = (end - start).total_seconds() * 1000
    first = _time(row.get("completionStartTime"))
    response = maybe_json(row.get("response"))
    messages = maybe_json(row.get("messages"))
    psr = maybe_json(row.get("proxy_server_request")) or {}
    tools = psr.get("tools") if isinstance(psr, dict) else None
    status = str(row.get("status") or meta.get("status") or "success").lower()
    err_info = meta.get("error_information")
    err: dict[str, Any] = err_info if isinstance(err_info, dict) else {}
    served = response.get("model") if isinstance(response, dict) else None
    tags = maybe_json(row.get("request_tags")) or []
    segments = {
        str(t).split(":", 1)[0]: str(t).split(":", 1)[1]
        for t in tags
        if isinstance(t, str) and ":" in t and not t.startswith("trace:")
    }
    trace = custom.get("trace_id") or next(
        (t[6:] for t in tags if isinstance(t, str) and t.startswith("trace:")), None
    )
    return Step(
        trace_id=str(trace or row.get("session_id") or row.get("request_id") or ref),
        step_id=str(row.get("request_id") or ref),
        kind="tool" if row.get("mcp_namespaced_tool_name") else "llm",
        name=row.get("call_type"),
        task_class=custom.get("task_class") or row.get("agent_id"),
        segments=segments,
        started_at=start,
        duration_ms=duration if duration is None or duration >= 0 else None,
        ttft_ms=(first - start).total_seconds() * 1000
        if first and start and first >= start
        else None,
        status="error" if status in ("failure", "error") else "ok",
        error_type=str(err.get("error_class")) if err.get("error_class") else None,
        error_message=err.get("error_message"),
        provider_served=row.get("custom_llm_provider"),
        model_requested=row.get("model_group")
        or hdr.get("x-litellm-model-group")
        or row.get("model"),
        model_routed=row.get("model"),
        model_served=served,
        system_fingerprint=response.get("system_fingerprint")
        if isinstance(response, dict)
        else None,
        fallback_index=_int(hdr.get("x-litellm-attempted-fallbacks")),
        retry_count=_int(hdr.get("x-litellm-attempted-retries")),
        cache_hit=_truthy(row.get("cache_hit")),
        cache_kind="litellm" if _truthy(row.get("cache_hit")) else None,
        usage=StepUsage(
            input_tokens=_int(row.get("prompt_tokens")),
            output_tokens=_int(row.get("completion_tokens")),
        ),
        cost_usd=_float(row.get("spend")) or _float(hdr.get("x-litellm-response-cost")),
        input_messages=from_parts_messages(messages) if isinstance(messages, list) else [],
        output_message=openai_message(response),
        tool_definitions=tools if isinstance(tools, list) else [],
        tool_name=row.get("mcp_namespaced_tool_name"),
        source="litellm",
        source_ref=ref,
    )


def bifrost_row_to_step(
    row: dict[str, Any], ref: str, primary: tuple[str | None, str | None] | None = None
) -> Step:
    """One Bifrost ``logs`` row as a :class:`Step`.

    ``primary``: (model requested, provider) of the first row of the row's fallback
    chain (its ``parent_request_id``), when known. A fallback row then keeps the model
    and provider the caller asked for, so the audit reports the model and provider that
    changed, not only that a fallback fired. Routing-info fields on the row or its
    recorded headers (``primary_model``, ``x-bifrost-routing-info-primary-model``) are
    preferred when present.
    """
    meta = maybe_json(row.get("metadata"))
    meta = meta if isinstance(meta, dict) else {}
    cache = maybe_json(row.get("cache_debug"))
    cache = cache if isinstance(cache, dict) else {}
    usage = maybe_json(row.get("token_usage"))
    usage = usage if isinstance(usage, dict) else {}
    details = usage.get("prompt_tokens_details") or {}
    hdr = _headers(row)
    error = maybe_json(row.get("error_details"))
    error = error if isinstance(error, dict) else {}
    err_raw = error.get("error")
    err_obj: dict[str, Any] = err_raw if isinstance(err_raw, dict) else {}
    history = maybe_json(row.get("input_history"))
    tools = maybe_json(row.get("tools"))
    routed = row.get("model")
    provider = row.get("provider")
    requested = (
        meta.get("requested_model") or row.get("alias") or hdr.get("x-bifrost-original-model")
    )
    fallback = _int(row.get("fallback_index")) or _int(hdr.get("x-bifrost-fallback-index"))
    provider_requested = meta.get("requested_provider")
    if fallback:
        p_model = row.get("primary_model") or hdr.get("x-bifrost-routing-info-primary-model")
        p_provider = row.get("primary_provider") or hdr.get(
            "x-bifrost-routing-info-primary-provider"
        )
        if p_model and p_provider and "/" not in str(p_model):
            p_model = f"{p_provider}/{p_model}"
        if primary is not None:
            p_model = p_model or primary[0]
            p_provider = p_provider or primary[1]
        requested = requested or p_model
        provider_requested = provider_requested or p_provider
    if requested is None and routed:
        requested = f"{provider}/{routed}" if provider and "/" not in str(routed) else routed
    segments = {
        k: str(v)
        for k, v in (
            ("team", row.get("team_name") or row.get("team_id")),
            ("customer", row.get("customer_name") or row.get("customer_id")),
        )
        if v
    }
    status = str(row.get("status") or "success").lower()
    return Step(
        trace_id=str(meta.get("trace_id") or row.get("parent_request_id") or row.get("id") or ref),
        step_id=str(row.get("id") or ref),
        parent_id=row.get("parent_request_id") or None,
        kind="llm",
        name=row.get("object_type") or row.get("object"),
        task_class=meta.get("task_class") or row.get("selected_prompt_name"),
        segments=segments,
        started_at=_time(row.get("timestamp")),
        duration_ms=_float(row.get("latency")),
        status="error" if status == "error" else "ok",
        error_type=str(err_obj.get("type")) if err_obj.get("type") else None,
        error_message=err_obj.get("message"),
        provider_requested=provider_requested,
        provider_served=provider,
        model_requested=requested,
        model_routed=routed,
        model_served=meta.get("response_model") or cache.get("model_used"),
        fallback_index=fallback,
        retry_count=_int(row.get("number_of_retries")),
        cache_hit=_truthy(cache.get("cache_hit")),
        cache_kind=cache.get("hit_type"),
        usage=StepUsage(
            input_tokens=_int(usage.get("prompt_tokens") or row.get("prompt_tokens")),
            output_tokens=_int(usage.get("completion_tokens") or row.get("completion_tokens")),
            cache_read_tokens=_int(
                (details.get("cached_tokens") if isinstance(details, dict) else None)
                or row.get("cached_read_tokens")
            ),
        ),
        cost_usd=_float(row.get("cost")),
        input_messages=from_parts_messages(history) if isinstance(history, list) else [],
        output_message=openai_message(maybe_json(row.get("output_message"))),
        tool_definitions=tools if isinstance(tools, list) else [],
        source="bifrost",
        source_ref=ref,
    )


def _checked(convert: Any, row: dict[str, Any], path: Path, line: int) -> Step:
    try:
        step: Step = convert(row, f"{path}:{line}")
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "(row)"
        raise InputError(
            f"row does not give a valid step: {err['msg']}", path=path, line=line, field=field
        ) from None
    return step


def iter_litellm(path: Path) -> Iterator[Step]:
    """Steps of a LiteLLM spend-log export (JSONL, JSON array or CSV)."""
    for line, row in iter_records(path):
        yield _checked(litellm_row_to_step, row, path, line)


def _bifrost_with(
    row: dict[str, Any], ref: str, *, primary: tuple[str | None, str | None] | None
) -> Step:
    return bifrost_row_to_step(row, ref, primary)


_CHAIN_MEMORY = 200_000
"""First rows of fallback chains remembered (by request id) while a file is read."""


def iter_bifrost(path: Path) -> Iterator[Step]:
    """Steps of a Bifrost log export (JSONL, JSON array or CSV). Rows still 'processing' are skipped.

    Bifrost logs each attempt of a fallback chain as its own row, the fallbacks pointing
    at the first with ``parent_request_id``; a fallback row gets the model and provider
    its chain's first row requested (when that row came earlier in the file).
    """
    chains: dict[str, tuple[str | None, str | None]] = {}
    for line, row in iter_records(path):
        if str(row.get("status") or "").lower() == "processing":
            continue
        parent = row.get("parent_request_id")
        primary = chains.get(str(parent)) if parent else None
        step = _checked(functools.partial(_bifrost_with, primary=primary), row, path, line)
        if not step.fallback_index and row.get("id"):
            if len(chains) >= _CHAIN_MEMORY:
                chains.clear()  # bounded memory; later fallbacks lose only the carry-over
            chains[str(row["id"])] = (
                step.model_requested,
                step.provider_requested or step.provider_served,
            )
        yield step
