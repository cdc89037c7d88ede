"""Ingest: OTel GenAI (old and new attribute names), LiteLLM, Bifrost and generic JSONL."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path
from typing import Any

import orjson
import pytest
from traces_helpers import write_jsonl

from nullband.errors import InputError
from nullband.traces.audit import audit_traces
from nullband.traces.ingest import detect_format, iter_steps, read_traces, write_steps


def _kv(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        v: dict[str, Any] = {"boolValue": value}
    elif isinstance(value, int):
        v = {"intValue": str(value)}  # OTLP JSON encodes int64 as a string
    elif isinstance(value, float):
        v = {"doubleValue": value}
    elif isinstance(value, list):
        v = {"arrayValue": {"values": [{"stringValue": x} for x in value]}}
    else:
        v = {"stringValue": value}
    return {"key": key, "value": v}


def _request(spans: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [_kv("service.name", "agent")]},
                "scopeSpans": [{"scope": {"name": "test"}, "spans": spans}],
            }
        ]
    }


NEW_SPAN = {
    "traceId": "5b8efff798038103d269b633813fc60c",
    "spanId": "eee19b7ec3c1b174",
    "name": "chat gpt-4o",
    "kind": 3,
    "startTimeUnixNano": "1748131200000000000",
    "endTimeUnixNano": "1748131200850000000",
    "attributes": [
        _kv("gen_ai.operation.name", "chat"),
        _kv("gen_ai.provider.name", "openai"),
        _kv("gen_ai.request.model", "gpt-4o"),
        _kv("gen_ai.response.model", "gpt-4o-2024-08-06"),
        _kv("gen_ai.usage.input_tokens", 120),
        _kv("gen_ai.usage.output_tokens", 42),
        _kv("gen_ai.usage.cache_write.input_tokens", 7),
        _kv("gen_ai.agent.name", "refund_agent"),
        _kv("bifrost.retries", 2),
        _kv("bifrost.fallback_index", 1),
        _kv(
            "gen_ai.input.messages",
            orjson.dumps(
                [{"role": "user", "parts": [{"type": "text", "content": "refund order 7"}]}]
            ).decode(),
        ),
        _kv(
            "gen_ai.output.messages",
            orjson.dumps(
                [
                    {
                        "role": "assistant",
                        "parts": [
                            {
                                "type": "tool_call",
                                "id": "c1",
                                "name": "refund",
                                "arguments": {"order": 7},
                            }
                        ],
                        "finish_reason": "tool_call",
                    }
                ]
            ).decode(),
        ),
    ],
    "status": {"code": 1},
}

OLD_SPAN = {
    "traceId": "5b8efff798038103d269b633813fc60c",
    "spanId": "aaa19b7ec3c1b174",
    "parentSpanId": "eee19b7ec3c1b174",
    "name": "chat gpt-4o",
    "startTimeUnixNano": "1748131201000000000",
    "endTimeUnixNano": "1748131201500000000",
    "attributes": [
        _kv("gen_ai.system", "openai"),
        _kv("gen_ai.request.model", "gpt-4o"),
        _kv("gen_ai.response.model", "gpt-4o-2024-08-06"),
        _kv("gen_ai.usage.prompt_tokens", 120),
        _kv("gen_ai.usage.completion_tokens", 42),
        _kv("gen_ai.usage.cache_creation.input_tokens", 7),
        _kv("gen_ai.prompt.0.role", "user"),
        _kv("gen_ai.prompt.0.content", "refund order 7"),
        _kv("gen_ai.completion.0.role", "assistant"),
        _kv("gen_ai.completion.0.content", "Refunded."),
    ],
    "events": [
        {"name": "gen_ai.system.message", "attributes": [_kv("content", "You are helpful.")]},
    ],
    "status": {"code": 2, "message": "upstream 500"},
}


def test_otel_old_and_new_attribute_names_normalise_alike(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "spans.jsonl", [_request([NEW_SPAN]), _request([OLD_SPAN])])
    assert detect_format(path) == "otel"
    new, old = list(iter_steps(path))
    for s in (new, old):
        assert s.trace_id == "5b8efff798038103d269b633813fc60c"
        assert s.provider_served == "openai"
        assert s.model_requested == "gpt-4o"
        assert s.model_served == "gpt-4o-2024-08-06"
        assert (s.usage.input_tokens, s.usage.output_tokens, s.usage.cache_write_tokens) == (
            120,
            42,
            7,
        )
        assert s.kind == "llm"
    assert new.attributes["nullband.alias"] == "new"
    assert old.attributes["nullband.alias"] == "old"
    assert new.duration_ms == pytest.approx(850.0)
    assert new.retry_count == 2
    assert new.fallback_index == 1
    assert new.task_class == "refund_agent"
    assert new.input_messages == [{"role": "user", "content": "refund order 7"}]
    call = new.output_message["tool_calls"][0]  # type: ignore[index]
    assert call["function"] == {"name": "refund", "arguments": '{"order":7}'}
    assert old.parent_id == "eee19b7ec3c1b174"
    assert old.input_messages[0] == {"role": "system", "content": "You are helpful."}
    assert old.output_message == {"role": "assistant", "content": "Refunded."}
    assert old.status == "error"
    assert old.error_message == "upstream 500"


def test_otel_single_document_and_gzip(tmp_path: Path) -> None:
    doc = tmp_path / "export.json"
    doc.write_bytes(orjson.dumps(_request([NEW_SPAN, OLD_SPAN]), option=orjson.OPT_INDENT_2))
    assert len(list(iter_steps(doc))) == 2
    gz = tmp_path / "spans.jsonl.gz"
    with gzip.open(gz, "wb") as fh:
        fh.write(orjson.dumps(_request([NEW_SPAN])) + b"\n")
    assert [s.model_served for s in iter_steps(gz)] == ["gpt-4o-2024-08-06"]


LITELLM_ROW = {
    "request_id": "chatcmpl-1",
    "call_type": "acompletion",
    "spend": 0.00042,
    "total_tokens": 30,
    "prompt_tokens": 20,
    "completion_tokens": 10,
    "startTime": "2026-05-25T10:00:00Z",
    "endTime": "2026-05-25T10:00:01.250Z",
    "model": "gpt-4o-mini-2024-07-18",
    "model_group": "gpt-4o",
    "custom_llm_provider": "openai",
    "cache_hit": "True",
    "cache_key": "abc",
    "status": "success",
    "session_id": "sess-9",
    "request_tags": ["customer:acme"],
    "metadata": {
        "spend_logs_metadata": {"trace_id": "trace-9", "task_class": "invoice"},
        "hidden_params": {
            "additional_headers": {
                "x-litellm-attempted-retries": "1",
                "x-litellm-attempted-fallbacks": "1",
            }
        },
    },
    "messages": [{"role": "user", "content": "total?"}],
    "response": {
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"message": {"role": "assistant", "content": "42"}}],
    },
}


def test_litellm_spend_log_jsonl_and_csv(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "spend.jsonl", [LITELLM_ROW])
    assert detect_format(path) == "litellm"
    (s,) = iter_steps(path)
    assert (s.trace_id, s.step_id, s.task_class) == ("trace-9", "chatcmpl-1", "invoice")
    assert s.model_requested == "gpt-4o"
    assert s.model_served == "gpt-4o-mini-2024-07-18"
    assert s.cache_hit
    assert s.retry_count == 1
    assert s.fallback_index == 1
    assert s.duration_ms == pytest.approx(1250.0)
    assert s.cost_usd == pytest.approx(0.00042)
    assert s.segments == {"customer": "acme"}
    assert s.output_message == {"role": "assistant", "content": "42"}
    flags = {f.code for f in audit_traces(read_traces(path)).traces[0].flags}
    assert flags == {"cache_hit", "retry", "fallback", "model_mismatch"}
    csv_path = tmp_path / "spend.csv"
    with csv_path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(LITELLM_ROW))
        w.writeheader()
        w.writerow(
            {
                k: orjson.dumps(v).decode() if isinstance(v, dict | list) else v
                for k, v in LITELLM_ROW.items()
            }
        )
    (c,) = iter_steps(csv_path)
    assert c.model_dump(exclude={"source_ref"}) == s.model_dump(exclude={"source_ref"})


BIFROST_ROWS = [
    {
        "id": "req-1",
        "timestamp": "2026-05-25T10:00:00Z",
        "object_type": "chat.completion",
        "provider": "openai",
        "model": "gpt-4o",
        "fallback_index": 0,
        "number_of_retries": 2,
        "status": "error",
        "latency": 900.5,
        "error_details": {"status_code": 500, "error": {"type": "server_error", "message": "boom"}},
        "input_history": [{"role": "user", "content": "hi"}],
        "metadata": {"trace_id": "T1"},
    },
    {
        "id": "req-2",
        "parent_request_id": "req-1",
        "timestamp": "2026-05-25T10:00:01Z",
        "provider": "anthropic",
        "model": "claude-sonnet-4-6",
        "fallback_index": 1,
        "number_of_retries": 0,
        "status": "success",
        "latency": 700.0,
        "cache_debug": {"cache_hit": True, "hit_type": "semantic"},
        "token_usage": {
            "prompt_tokens": 11,
            "completion_tokens": 3,
            "prompt_tokens_details": {"cached_tokens": 4},
        },
        "output_message": {"role": "assistant", "content": "hello"},
        "metadata": {"trace_id": "T1"},
        "cost": 0.001,
        "team_name": "ops",
    },
    {
        "id": "req-3",
        "status": "processing",
        "provider": "openai",
        "model": "gpt-4o",
        "fallback_index": 0,
    },
]


def test_bifrost_log_rows(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "bifrost.jsonl", BIFROST_ROWS)
    assert detect_format(path) == "bifrost"
    first, second = list(iter_steps(path))  # the 'processing' row is skipped
    assert first.status == "error"
    assert first.error_type == "server_error"
    assert first.retry_count == 2
    assert second.fallback_index == 1
    assert second.cache_hit
    assert second.cache_kind == "semantic"
    assert second.usage.cache_read_tokens == 4
    assert second.segments == {"team": "ops"}
    # the fallback row keeps what its chain's first row asked for
    assert (second.model_requested, second.provider_requested) == ("openai/gpt-4o", "openai")
    assert (second.model_routed, second.provider_served) == ("claude-sonnet-4-6", "anthropic")
    (trace,) = list(read_traces(path))
    audit = audit_traces([trace]).traces[0]
    codes = {f.code for f in audit.flags}
    assert codes == {"retry", "step_error", "fallback", "cache_hit", "model_mismatch"}
    assert any(f.reason == "requested openai/gpt-4o, served claude-sonnet-4-6" for f in audit.flags)
    assert audit.verdict == "noisy"  # the fallback answered, so the trace did not fail


def test_bifrost_fallback_row_reads_the_primary_from_routing_info(tmp_path: Path) -> None:
    # no earlier row of the chain in the file: the routing-info header names the primary
    row = {
        **BIFROST_ROWS[1],
        "parent_request_id": "not-in-this-file",
        "response_headers": {
            "x-bifrost-routing-info-primary-model": "gpt-4o",
            "x-bifrost-routing-info-primary-provider": "openai",
        },
    }
    (step,) = list(iter_steps(write_jsonl(tmp_path / "b.jsonl", [row]), "bifrost"))
    assert (step.model_requested, step.provider_requested) == ("openai/gpt-4o", "openai")
    # without either, the row's own model stands (nothing is invented)
    bare = {**BIFROST_ROWS[1], "parent_request_id": "not-in-this-file"}
    (step,) = list(iter_steps(write_jsonl(tmp_path / "c.jsonl", [bare]), "bifrost"))
    assert (step.model_requested, step.provider_requested) == ("anthropic/claude-sonnet-4-6", None)


def test_generic_roundtrip_and_errors(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "bifrost.jsonl", BIFROST_ROWS[:2])
    out = tmp_path / "steps.jsonl"
    assert write_steps(iter_steps(src), out) == 2
    assert detect_format(out) == "generic"
    assert [s.model_dump() for s in iter_steps(out)] == [s.model_dump() for s in iter_steps(src)]
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"trace_id": "t", "step_id": "s", "colour": 1}])
    with pytest.raises(InputError, match=r"bad.jsonl:1: field 'colour': Extra inputs"):
        list(iter_steps(bad, "generic"))
    notjson = tmp_path / "nj.jsonl"
    notjson.write_text('{"trace_id": "t", "step_id": "s"}\n{oops\n')
    with pytest.raises(InputError, match=r"nj.jsonl:2: line is not valid JSON"):
        list(iter_steps(notjson, "generic"))
    with pytest.raises(InputError, match="cannot recognise"):
        detect_format(write_jsonl(tmp_path / "x.jsonl", [{"hello": 1}]))
