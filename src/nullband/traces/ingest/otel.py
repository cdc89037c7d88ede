"""OpenTelemetry GenAI spans in OTLP JSON (one export request per line, or one document).

Both attribute generations are read through one alias table: the older names
(``gen_ai.system``, ``gen_ai.usage.prompt_tokens``, per-message events, flattened
``gen_ai.prompt.N.*``) and the current ones (``gen_ai.provider.name``,
``gen_ai.usage.input_tokens``, ``gen_ai.input.messages``, ``cache_write``), plus
OpenInference ``llm.*`` names and Bifrost's ``bifrost.*`` extensions. The first alias
present wins; ``attributes["nullband.alias"]`` records which generation matched.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from nullband.errors import InputError
from nullband.traces.ingest._io import maybe_json, open_binary
from nullband.traces.ingest._messages import (
    from_parts_messages,
    openai_message,
    system_instructions,
)
from nullband.traces.schema import Step, StepKind, StepUsage

ALIASES: dict[str, tuple[str, ...]] = {
    "operation": ("gen_ai.operation.name", "openinference.span.kind"),
    "provider": ("gen_ai.provider.name", "gen_ai.system", "bifrost.provider.name", "llm.provider"),
    "model_requested": ("gen_ai.request.model", "llm.request.model_name", "llm.model_name"),
    "model_served": ("gen_ai.response.model", "llm.response.model_name"),
    "input_tokens": (
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.prompt_tokens",
        "llm.token_count.prompt",
    ),
    "output_tokens": (
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.completion_tokens",
        "llm.token_count.completion",
    ),
    "cache_read": (
        "gen_ai.usage.cache_read.input_tokens",
        "llm.token_count.prompt_details.cache_read",
    ),
    "cache_write": (
        "gen_ai.usage.cache_write.input_tokens",
        "gen_ai.usage.cache_creation.input_tokens",
        "llm.token_count.prompt_details.cache_write",
    ),
    "fingerprint": (
        "openai.response.system_fingerprint",
        "gen_ai.openai.response.system_fingerprint",
    ),
    "task_class": (
        "nullband.task_class",
        "gen_ai.agent.name",
        "gen_ai.workflow.name",
        "gen_ai.prompt.name",
    ),
    "tool_name": ("gen_ai.tool.name", "tool.name"),
    "tool_call_id": ("gen_ai.tool.call.id", "message.tool_call_id"),
    "tool_arguments": ("gen_ai.tool.call.arguments", "tool.parameters"),
    "tool_result": ("gen_ai.tool.call.result",),
    "retries": ("bifrost.retries", "nullband.retries"),
    "fallback_index": ("bifrost.fallback_index", "nullband.fallback_index"),
    "cache_hit": ("nullband.cache_hit", "bifrost.cache.hit"),
    "ttft_s": ("gen_ai.response.time_to_first_chunk",),
    "cost": ("llm.cost.total", "nullband.cost_usd"),
    "error_type": ("error.type", "bifrost.error.type"),
}
_NEW_KEYS = ("gen_ai.provider.name", "gen_ai.usage.input_tokens", "gen_ai.input.messages")
_OLD_KEYS = ("gen_ai.system", "gen_ai.usage.prompt_tokens", "gen_ai.prompt.0.content")

_KINDS: dict[str, StepKind] = {
    "chat": "llm",
    "text_completion": "llm",
    "generate_content": "llm",
    "llm": "llm",
    "embeddings": "embedding",
    "embedding": "embedding",
    "execute_tool": "tool",
    "tool": "tool",
    "invoke_agent": "agent",
    "create_agent": "agent",
    "agent": "agent",
    "invoke_workflow": "workflow",
    "chain": "workflow",
    "retrieval": "retrieval",
    "retriever": "retrieval",
}
_OLD_EVENTS = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}


def any_value(v: Any) -> Any:
    """Decode an OTLP JSON ``AnyValue`` (``{"stringValue": ...}``, arrays, kv lists)."""
    if not isinstance(v, dict):
        return v
    if "stringValue" in v:
        return v["stringValue"]
    if "intValue" in v:
        return int(v["intValue"])
    if "doubleValue" in v:
        return float(v["doubleValue"])
    if "boolValue" in v:
        return bool(v["boolValue"])
    if "arrayValue" in v:
        return [any_value(x) for x in (v["arrayValue"] or {}).get("values", [])]
    if "kvlistValue" in v:
        return attrs((v["kvlistValue"] or {}).get("values", []))
    if "bytesValue" in v:
        return v["bytesValue"]
    return None


def attrs(kvs: Any) -> dict[str, Any]:
    """OTLP ``[{"key", "value"}]`` attributes as a dict."""
    out: dict[str, Any] = {}
    if isinstance(kvs, list):
        for kv in kvs:
            if isinstance(kv, dict) and "key" in kv:
                out[str(kv["key"])] = any_value(kv.get("value"))
    return out


def _pick(a: dict[str, Any], name: str) -> Any:
    for key in ALIASES[name]:
        if key in a and a[key] is not None:
            return a[key]
    return None


def _nanos(v: Any) -> int | None:
    try:
        return int(v) if v not in (None, "", "0", 0) else None
    except (TypeError, ValueError):
        return None


def _flattened(a: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """OpenLLMetry-style ``gen_ai.prompt.N.role|content`` attributes as messages."""
    msgs: list[dict[str, Any]] = []
    i = 0
    while f"{prefix}.{i}.role" in a or f"{prefix}.{i}.content" in a:
        m: dict[str, Any] = {
            "role": a.get(f"{prefix}.{i}.role", "assistant"),
            "content": a.get(f"{prefix}.{i}.content"),
        }
        calls = []
        j = 0
        while f"{prefix}.{i}.tool_calls.{j}.name" in a:
            calls.append(
                {
                    "id": a.get(f"{prefix}.{i}.tool_calls.{j}.id"),
                    "type": "function",
                    "function": {
                        "name": a[f"{prefix}.{i}.tool_calls.{j}.name"],
                        "arguments": a.get(f"{prefix}.{i}.tool_calls.{j}.arguments", "{}"),
                    },
                }
            )
            j += 1
        if calls:
            m["tool_calls"] = calls
        msgs.append(m)
        i += 1
    return msgs


def span_to_step(span: dict[str, Any], resource: dict[str, Any], ref: str) -> Step:
    """One OTLP span as a :class:`Step`."""
    a = attrs(span.get("attributes"))
    events = span.get("events") or []
    op = str(_pick(a, "operation") or "").lower()
    kind: StepKind = _KINDS.get(op, "other")
    start = _nanos(span.get("startTimeUnixNano"))
    end = _nanos(span.get("endTimeUnixNano"))
    started_at = datetime.fromtimestamp(start / 1e9, tz=UTC) if start else None
    duration = (end - start) / 1e6 if start and end and end >= start else None

    inputs: list[dict[str, Any]] = []
    output: dict[str, Any] | None = None
    inputs += system_instructions(maybe_json(a.get("gen_ai.system_instructions")))
    inputs += from_parts_messages(maybe_json(a.get("gen_ai.input.messages")))
    outs = from_parts_messages(maybe_json(a.get("gen_ai.output.messages")))
    for ev in events:
        if not isinstance(ev, dict):
            continue
        ea = attrs(ev.get("attributes"))
        name = ev.get("name", "")
        if name == "gen_ai.client.inference.operation.details":
            inputs += system_instructions(maybe_json(ea.get("gen_ai.system_instructions")))
            inputs += from_parts_messages(maybe_json(ea.get("gen_ai.input.messages")))
            outs += from_parts_messages(maybe_json(ea.get("gen_ai.output.messages")))
        elif name in _OLD_EVENTS:
            m: dict[str, Any] = {"role": _OLD_EVENTS[name], "content": ea.get("content")}
            if ea.get("tool_calls") is not None:
                m["tool_calls"] = maybe_json(ea["tool_calls"])
            if ea.get("id") is not None and name == "gen_ai.tool.message":
                m["tool_call_id"] = ea["id"]
            inputs.append(m)
        elif name == "gen_ai.choice":
            output = openai_message(maybe_json(ea.get("message"))) or {
                "role": "assistant",
                "content": ea.get("content"),
            }
    if not inputs:
        inputs = _flattened(a, "gen_ai.prompt")
    if outs:
        output = outs[-1]
    elif output is None:
        flat = _flattened(a, "gen_ai.completion")
        output = flat[-1] if flat else None
    if kind == "other" and (a.get("gen_ai.request.model") or inputs):
        kind = "llm"

    status_obj = span.get("status") or {}
    code = status_obj.get("code")
    error_type = _pick(a, "error_type")
    failed = code in (2, "2", "STATUS_CODE_ERROR") or error_type is not None
    ttft = _pick(a, "ttft_s")
    cache = _pick(a, "cache_hit")
    segments = {
        k.removeprefix("nullband.segment."): str(v)
        for k, v in a.items()
        if k.startswith("nullband.segment.")
    }
    alias = (
        "new"
        if any(k in a for k in _NEW_KEYS)
        else "old"
        if any(k in a for k in _OLD_KEYS)
        else "other"
    )
    defs = maybe_json(a.get("gen_ai.tool.definitions"))
    return Step(
        trace_id=str(span.get("traceId") or ""),
        step_id=str(span.get("spanId") or ref),
        parent_id=str(span["parentSpanId"]) if span.get("parentSpanId") else None,
        kind=kind,
        name=span.get("name"),
        task_class=_pick(a, "task_class"),
        segments=segments,
        started_at=started_at,
        duration_ms=duration,
        ttft_ms=float(ttft) * 1000 if isinstance(ttft, int | float) else None,
        status="error" if failed else "ok",
        error_type=str(error_type) if failed and error_type is not None else None,
        error_message=status_obj.get("message") or None,
        provider_served=_pick(a, "provider"),
        model_requested=_pick(a, "model_requested"),
        model_served=_pick(a, "model_served"),
        system_fingerprint=_pick(a, "fingerprint"),
        fallback_index=int(_pick(a, "fallback_index") or 0),
        retry_count=int(_pick(a, "retries") or 0),
        cache_hit=bool(cache) and str(cache).lower() not in ("false", "0"),
        usage=StepUsage(
            input_tokens=int(_pick(a, "input_tokens") or 0),
            output_tokens=int(_pick(a, "output_tokens") or 0),
            cache_read_tokens=int(_pick(a, "cache_read") or 0),
            cache_write_tokens=int(_pick(a, "cache_write") or 0),
        ),
        cost_usd=float(c) if isinstance(c := _pick(a, "cost"), int | float) else None,
        input_messages=inputs,
        output_message=output,
        tool_definitions=defs if isinstance(defs, list) else [],
        tool_name=_pick(a, "tool_name"),
        tool_call_id=_pick(a, "tool_call_id"),
        tool_arguments=_pick(a, "tool_arguments"),
        tool_result=maybe_json(_pick(a, "tool_result")),
        source="otel",
        source_ref=ref,
        attributes={
            "nullband.alias": alias,
            **{k: v for k, v in resource.items() if k == "service.name"},
        },
    )


def _request_steps(req: dict[str, Any], ref: str) -> Iterator[Step]:
    for rs in req.get("resourceSpans") or []:
        resource = attrs((rs.get("resource") or {}).get("attributes"))
        for ss in rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or []:
            for span in ss.get("spans") or []:
                if not isinstance(span, dict):
                    continue
                try:
                    yield span_to_step(span, resource, ref)
                except ValidationError as exc:
                    err = exc.errors()[0]
                    field = ".".join(str(p) for p in err["loc"]) or "(span)"
                    raise InputError(
                        f"span {span.get('spanId')!r} does not give a valid step: {err['msg']}",
                        path=ref.rsplit(":", 1)[0],
                        line=int(ref.rsplit(":", 1)[1]),
                        field=field,
                        hint="spans need a traceId and a spanId",
                    ) from None


def iter_otel(path: Path) -> Iterator[Step]:
    """Steps of an OTLP JSON file: one export request per line, or one (pretty) document.

    A one-document file is read whole; write one request per line to stream large files
    (the OpenTelemetry Collector's file exporter does).
    """
    with open_binary(path) as fh:
        first = fh.readline()
    try:
        orjson.loads(first)
        line_mode = True
    except orjson.JSONDecodeError:
        line_mode = False
    if not line_mode:
        with open_binary(path) as fh:
            try:
                doc = orjson.loads(fh.read())
            except orjson.JSONDecodeError as exc:
                raise InputError(f"not OTLP JSON ({exc})", path=path) from None
        yield from _request_steps(doc, f"{path}:1")
        return
    with open_binary(path) as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                req = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise InputError(
                    f"line is not valid JSON ({exc})", path=path, line=lineno
                ) from None
            yield from _request_steps(req, f"{path}:{lineno}")
