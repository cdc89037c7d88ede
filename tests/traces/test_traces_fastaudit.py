"""The fast (msgspec) audit engine gives the reference engine's report, row for row."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from pydantic import ValidationError
from traces_helpers import CorpusFiles, write_jsonl, write_spread_trace

from nullband.errors import InputError
from nullband.traces import fastaudit
from nullband.traces.audit_models import AuditConfig, AuditReport
from nullband.traces.fastaudit import audit_file_fast
from nullband.traces.msgwire import encode
from nullband.traces.pipeline import audit_file, load_audit_config
from nullband.traces.synth import RESULT_SCHEMAS, TOOLS

CFG = AuditConfig(tool_schemas=TOOLS, result_schemas=RESULT_SCHEMAS)


def _same(a: AuditReport, b: AuditReport) -> None:
    def key(r: AuditReport) -> list[dict[str, Any]]:
        return [t.model_dump() for t in sorted(r.traces, key=lambda t: t.trace_id)]

    assert key(a) == key(b)
    assert a.summary.verdicts == b.summary.verdicts
    assert a.summary.flags == b.summary.flags
    assert a.summary.classes == b.summary.classes
    assert a.summary.n_steps == b.summary.n_steps


def _both(path: Path, cfg: AuditConfig, **kw: Any) -> AuditReport:
    ref = audit_file(path, cfg, engine="python")
    got = audit_file_fast(path, cfg, **kw)
    _same(got, ref)
    assert got.summary.engine == "fast"
    return ref


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"timing_factor": 1.1, "flag_fast": True, "ignore": ["retry"], "min_class_size": 50},
        {"pinned": {"gpt-4o-2024-08-06": "gpt-4o-2024-11-20"}, "severity": {"retry": "corrupted"}},
        {"ground_truth": {}, "tool_schemas": {}, "result_schemas": {}},
    ],
)
def test_planted_corpus_gives_the_reference_report(
    planted: CorpusFiles, extra: dict[str, object]
) -> None:
    cfg = load_audit_config(
        tools_path=planted.tools,
        result_schemas_path=planted.results,
        ground_truth_path=planted.truth,
    ).model_copy(update=extra)
    # 1 MiB chunks: several chunks on two workers, traces cut at chunk ends
    ref = _both(planted.steps, cfg, processes=2, chunk_mb=1)
    assert ref.summary.verdicts["corrupted"] > 0
    assert ref.summary.verdicts["noisy"] > 0


def _call(name: Any, args: Any = None, *, no_args: bool = False) -> dict[str, Any]:
    fn: dict[str, Any] = {"name": name}
    if not no_args:
        fn["arguments"] = args
    return {"id": "c1", "type": "function", "function": fn}


def _odd_steps() -> list[dict[str, Any]]:
    llm = {"kind": "llm", "duration_ms": 10.0}
    tool = {"kind": "tool", "duration_ms": 5.0}
    defs = [
        {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}},
        {"type": "function", "function": {"name": "free"}},
        {"type": "function"},
    ]
    rows: list[dict[str, Any]] = [
        # unicode model names: equal after lower(), different, and with provider prefixes
        {
            "trace_id": "u1",
            "step_id": "1",
            "model_requested": "Modèle-X",
            "model_served": "modèle-x",
        },
        {"trace_id": "u2", "step_id": "1", "model_requested": "ОПУС", "model_served": "опус-2"},
        {"trace_id": "u3", "step_id": "1", "model_requested": "a/ÉTÉ", "model_routed": "b/été"},
        # empty strings count as missing, like Python's `a or b`; nulls likewise
        {"trace_id": "e1", "step_id": "1", "model_served": "", "name": "n", "task_class": ""},
        {"trace_id": "e1", "step_id": "2", "provider_requested": "x", "provider_served": ""},
        {"trace_id": "e2", "step_id": "1", "model_requested": None, "tool_name": None, **llm},
        {"trace_id": "e3", "step_id": "1", "output_message": {}, "tool_definitions": []},
        {"trace_id": "e3", "step_id": "2", "output_message": {"role": "assistant"}},
        {"trace_id": "e3", "step_id": "3", "output_message": {"tool_calls": []}},
        # tool calls: invalid, valid, as objects, missing arguments, odd functions
        {
            "trace_id": "c1",
            "step_id": "1",
            "output_message": {"tool_calls": [_call("search_kb", '{"query": ""}')]},
        },
        {
            "trace_id": "c2",
            "step_id": "1",
            "output_message": {"tool_calls": [_call("search_kb", {"query": "q", "top_k": 3})]},
        },
        {
            "trace_id": "c3",
            "step_id": "1",
            "output_message": {"tool_calls": [_call("search_kb", no_args=True)]},
        },
        {
            "trace_id": "c4",
            "step_id": "1",
            "output_message": {"tool_calls": [{"id": "x", "function": None}, _call(5, "{}")]},
        },
        {
            "trace_id": "c5",
            "step_id": "1",
            "output_message": {"tool_calls": [_call("search_kb", "not json")]},
        },
        {
            "trace_id": "c6",
            "step_id": "1",
            "output_message": {"tool_calls": [_call("search_kb", '{"query": "q", "top_k": 3.0}')]},
        },
        # tools known only from the trace's definitions, and one not offered
        {
            "trace_id": "d1",
            "step_id": "1",
            "tool_definitions": defs,
            "output_message": {
                "tool_calls": [_call("lookup", "{}"), _call("free", "[]"), _call("gone", "{}")]
            },
        },
        {
            "trace_id": "d2",
            "step_id": "1",
            "tool_definitions": defs[:1],
            "output_message": {"tool_calls": [_call("lookup", "[1]")]},
        },
        # tool steps: results as JSON text, "", numbers; arguments as objects and null
        {
            "trace_id": "t1",
            "step_id": "1",
            "tool_name": "search_kb",
            "tool_arguments": {"query": "q", "top_k": 11},
            "tool_result": '{"hits": ["k"]}',
            **tool,
        },
        {
            "trace_id": "t1",
            "step_id": "2",
            "tool_name": "crm_lookup",
            "tool_result": 5,
            "tool_arguments": None,
            **tool,
        },
        {"trace_id": "t2", "step_id": "1", "tool_name": "search_kb", "tool_result": "", **tool},
        {
            "trace_id": "t3",
            "step_id": "1",
            "tool_name": "create_refund",
            "tool_arguments": '{"order_id": "o", "amount": 1e2, "currency": "EUR"}',
            "tool_result": {"refund_id": "r", "status": "ok"},
            **tool,
        },
        {
            "trace_id": "t4",
            "step_id": "1",
            "tool_name": "search_kb",
            "tool_arguments": '{"query": "caf\\u00e9"}',
            "tool_result": {"hits": []},
            **tool,
        },
        {"trace_id": "t5", "step_id": "1", "tool_name": "unknown", "tool_result": [1], **tool},
        {"trace_id": "t6", "step_id": "1", "kind": "tool", "tool_call_id": "gt-call"},
        {
            "trace_id": "t7",
            "step_id": "gt-step",
            "tool_name": "search_kb",
            "tool_arguments": '{"query": "q"}',
            "tool_result": {"hits": ["a"]},
            **tool,
        },
        # values the reference schema coerces (msgspec refuses them; pydantic decides)
        {"trace_id": "v1", "step_id": "1", "duration_ms": "900", **tool},
        {"trace_id": "v2", "step_id": "1", "fallback_index": 2.0, "cache_hit": "true"},
        {"trace_id": "v3", "step_id": "1", "retry_count": "3", "duration_ms": 7},
        {"trace_id": "v4", "step_id": "1", "usage": {"input_tokens": "12"}, "cost_usd": 1},
        {"trace_id": "v5", "step_id": "1", "attributes": {"a": [1]}, "segments": {"c": "x"}},
        # start times: offsets, Z, naive, a dropped seconds field, and none
        {"trace_id": "s1", "step_id": "b", "started_at": "2026-05-01T00:00:01+02:00", **llm},
        {"trace_id": "s1", "step_id": "a", "started_at": "2026-04-30T22:00:00.5Z", **llm},
        {
            "trace_id": "s1",
            "step_id": "c",
            "started_at": "2026-04-30T22:00Z",
            "status": "error",
            **llm,
        },
        {"trace_id": "s2", "step_id": "1", "started_at": "2026-05-01T00:00:00", "retry_count": 1},
        {"trace_id": "s2", "step_id": "2", "status": "error", "error_type": "Timeout"},
        # a task class named "-" shares its timing class with steps that have none
        {"trace_id": "k1", "step_id": "1", "task_class": "-", "duration_ms": 10.0},
        {"trace_id": "k2", "step_id": "1", "duration_ms": 11.0},
        # bool/int confusions and a fallback with a provider change
        {"trace_id": "f1", "step_id": "1", "fallback_index": 1, "provider_served": "p2"},
        {"trace_id": "f2", "step_id": "1", "provider_requested": "p1", "provider_served": "p2"},
        {"trace_id": "f3", "step_id": "1", "cache_hit": True, "cache_kind": "semantic"},
        # a step id holding a newline (ids travel joined by newlines when none does)
        {"trace_id": "f4", "step_id": "a\nb", "retry_count": 1},
    ]
    # enough plain steps for timing medians, one of them slow
    rows += [
        {**llm, "trace_id": f"p{i}", "step_id": "1", "task_class": "x", "duration_ms": 10.0 + i % 3}
        for i in range(12)
    ]
    rows.append({**llm, "trace_id": "p0", "step_id": "2", "task_class": "x", "duration_ms": 99.0})
    return rows


@pytest.mark.parametrize("processes", [1, 2])
def test_odd_rows_give_the_reference_report(tmp_path: Path, processes: int) -> None:
    p = write_jsonl(tmp_path / "odd.jsonl", _odd_steps())
    cfg = CFG.model_copy(
        update={"ground_truth": {"gt-call": {"hits": []}, "gt-step": {"hits": ["b"]}}}
    )
    ref = _both(p, cfg, processes=processes)
    verdicts = {t.trace_id: t.verdict for t in ref.traces}
    # the rules saw what they should (the reference's verdicts on the odd rows)
    assert verdicts["u1"] == verdicts["u3"] == "clean"  # same model after lower(), prefix
    assert verdicts["u2"] == "noisy"
    assert verdicts["c1"] == verdicts["c3"] == verdicts["c5"] == verdicts["d1"] == "corrupted"
    assert verdicts["c2"] == "clean"
    assert verdicts["t7"] == "corrupted"  # recorded truth differs
    assert verdicts["p0"] == "noisy"  # the slow span
    _same(audit_file_fast(p, CFG, processes=processes), audit_file(p, CFG, engine="python"))


def test_a_trace_spread_over_the_file_gives_the_reference_report(tmp_path: Path) -> None:
    # trace "w" has steps at both ends of a file of three chunks; its last step failed
    p = write_spread_trace(tmp_path / "spread.jsonl")
    ref = _both(p, AuditConfig(), processes=2, chunk_mb=1)
    w = next(t for t in ref.traces if t.trace_id == "w")
    assert [f.code for f in w.flags] == ["retry", "step_error", "trace_failed"]
    assert w.n_steps == 3


def test_blank_lines_are_skipped_like_the_reference(tmp_path: Path) -> None:
    rows = [
        {
            "trace_id": f"t{i % 4}",
            "step_id": f"s{i}",
            "duration_ms": 10.0 + i % 3 + (50 if i == 7 else 0),
        }
        for i in range(20)
    ]
    body = b"".join(
        orjson.dumps(r) + b"\n" + (b"\n   \n" if i in (3, 9) else b"") for i, r in enumerate(rows)
    )
    p = tmp_path / "blank.jsonl"
    p.write_bytes(body + b"\n\n")
    ref = _both(p, AuditConfig())
    assert ref.summary.verdicts == {"clean": 3, "noisy": 1, "corrupted": 0}


def test_invalid_json_names_the_byte_offset(tmp_path: Path) -> None:
    p = tmp_path / "broken.jsonl"
    p.write_bytes(b'{"trace_id": "t", "step_id": "1"}\n\n{"trace_id": "t", "step_id": \n')
    with pytest.raises(InputError, match="byte 35 is not valid JSON") as err:
        audit_file_fast(p, processes=1)
    assert "broken.jsonl:3: " in str(err.value)  # the line number, the blank line counted


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"trace_id": "t"}, "step_id"),
        ({"step_id": "s"}, "trace_id"),
        ({"trace_id": "", "step_id": "s"}, "trace_id"),
        ({"trace_id": "t", "step_id": "s", "kind": "robot"}, "kind"),
        ({"trace_id": "t", "step_id": "s", "fallback_index": -1}, "fallback_index"),
        ({"trace_id": "t", "step_id": "s", "fallback_index": None}, "fallback_index"),
        ({"trace_id": "t", "step_id": "s", "output_message": "hi"}, "output_message"),
        ({"trace_id": "t", "step_id": "s", "started_at": "yesterday"}, "started_at"),
        # fields the audit does not read are checked as the reference checks them
        ({"trace_id": "t", "step_id": "s", "fallback_idx": 1}, "fallback_idx"),
        ({"trace_id": "t", "step_id": "s", "segments": {"customer": 1}}, "segments.customer"),
        ({"trace_id": "t", "step_id": "s", "usage": None}, "usage"),
        ({"trace_id": "t", "step_id": "s", "input_messages": ["hi"]}, "input_messages.0"),
        ({"trace_id": "t", "step_id": "s", "tool_definitions": [1]}, "tool_definitions.0"),
        ({"trace_id": "t", "step_id": "s", "cost_usd": -1}, "cost_usd"),
    ],
)
def test_a_step_the_schema_refuses_is_an_input_error(
    tmp_path: Path, row: dict[str, Any], field: str
) -> None:
    first = {"trace_id": "t", "step_id": "0"}
    p = write_jsonl(tmp_path / "bad.jsonl", [first, row])
    with pytest.raises(InputError):
        audit_file(p, AuditConfig(), engine="python")
    with pytest.raises(InputError) as err:
        audit_file_fast(p, processes=1)
    assert f"field '{field}'" in str(err.value)
    assert f"byte {len(orjson.dumps(first)) + 1}" in str(err.value)
    assert "bad.jsonl:2: " in str(err.value)


def test_a_json_value_that_is_not_an_object_is_an_input_error(tmp_path: Path) -> None:
    p = tmp_path / "list.jsonl"
    p.write_bytes(b"[1, 2]\n")
    with pytest.raises(InputError, match="byte 0 is a JSON list") as err:
        audit_file_fast(p, processes=1)
    assert err.value.line == 1


def test_a_bad_line_deep_in_a_big_file_names_its_line(tmp_path: Path) -> None:
    """Workers read byte ranges in parallel; the error still names the line number."""
    rows = [{"trace_id": f"t{i}", "step_id": "1"} for i in range(60_000)]
    rows[45_678] = {"trace_id": "t", "step_id": "1", "kind": "robot"}
    p = write_jsonl(tmp_path / "big.jsonl", rows)
    with pytest.raises(InputError) as err:
        audit_file_fast(p, processes=2, chunk_mb=1)
    assert "big.jsonl:45679: field 'kind'" in str(err.value)


@pytest.mark.parametrize("body", [b"", b"\n  \n"])
def test_a_file_without_steps_gives_an_empty_report(tmp_path: Path, body: bytes) -> None:
    p = tmp_path / "none.jsonl"
    p.write_bytes(body)
    report = audit_file_fast(p, processes=2)
    assert report.summary.n_traces == report.summary.n_steps == 0
    assert report.summary.classes == []


def test_results_a_string_schema_accepts_give_the_reference_report(tmp_path: Path) -> None:
    # the reference parses a string result that starts with "[" or "{" (or is empty)
    # before checking it; a schema that accepts strings must not hide that
    results = ["plain", "{not json", '{"a": 1}', "[1]", "", 5, None]
    rows = [
        {"trace_id": f"r{i}", "step_id": "1", "kind": "tool", "tool_name": "echo", "tool_result": r}
        for i, r in enumerate(results)
    ]
    p = write_jsonl(tmp_path / "echo.jsonl", rows)
    cfg = AuditConfig(
        tool_schemas={"echo": {"type": "object"}},
        result_schemas={"echo": {"type": "string", "minLength": 1}},
    )
    ref = _both(p, cfg, processes=1)
    # "{not json" fails to parse, so the reference checks None: only "plain" passes
    assert {t.trace_id for t in ref.traces if t.verdict == "clean"} == {"r0"}


@pytest.mark.parametrize("writable", [True, False])
def test_a_chunk_hands_over_whole(
    planted: CorpusFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writable: bool
) -> None:
    """A worker's chunk comes back field for field: through a hand-over file (arrays
    where the file was read, read-only) or, when the directory cannot be written, as
    pickled bytes."""
    cfg = load_audit_config(tools_path=planted.tools, result_schemas_path=planted.results)
    out = tmp_path / "handover"
    out.mkdir()
    fastaudit._init(str(planted.steps), cfg.model_dump_json().encode(), None, str(out))
    if not writable:
        monkeypatch.setattr(fastaudit, "_OUT", str(tmp_path / "missing"))
    size = planted.steps.stat().st_size
    got = fastaudit._chunk_blob((0, size, 3 << 40))
    want = encode(fastaudit._chunk((0, size, 3 << 40)))
    if writable:
        assert isinstance(got, str)
        back = fastaudit._load_handover(got)
        assert not back.tcode.flags.writeable  # in place, in the bytes read from the file
    else:
        assert isinstance(got, bytes)
        back = pickle.loads(got)
    assert len(back.sp_at) > 0
    assert len(back.row_t) > 0
    for name, a, b in zip(want._fields, want, back, strict=True):
        if isinstance(a, np.ndarray):
            assert a.dtype == b.dtype, name
            assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), name
        else:
            assert a == b, name


@pytest.mark.parametrize("use_native", [True, False])
def test_an_unusable_tool_definition_in_a_trace_is_flagged_not_a_crash(
    tmp_path: Path, use_native: bool
) -> None:
    """A call whose tool the trace defines with parameters that are not a JSON Schema
    (a number, an invalid schema) is a corrupted trace with the reason, on every engine."""

    def step(tid: str, params: object) -> dict[str, object]:
        return {
            "trace_id": tid,
            "step_id": f"{tid}-1",
            "kind": "llm",
            "model_requested": "m",
            "model_served": "m",
            "tool_definitions": [
                {"type": "function", "function": {"name": "f", "parameters": params}}
            ],
            "output_message": {
                "role": "assistant",
                "tool_calls": [
                    {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
        }

    p = write_jsonl(
        tmp_path / "defs.jsonl",
        [step("n", 0), step("t", {"type": 5}), step("ok", {"type": "object"})],
    )
    ref = audit_file(p, AuditConfig(), engine="python")
    got = audit_file_fast(p, AuditConfig(), processes=1, native=use_native)
    _same(got, ref)
    flags = {t.trace_id: [(f.code, f.reason) for f in t.flags] for t in ref.traces}
    assert flags["ok"] == []
    assert flags["n"] == [
        (
            "tool_args_invalid",
            "f: the trace's definition is not a JSON Schema (an object or true/false): 0",
        )
    ]
    assert flags["t"][0][0] == "tool_args_invalid"
    assert flags["t"][0][1].startswith("f: the trace's definition is not a valid JSON Schema: ")


@pytest.mark.parametrize(
    ("option", "content", "field"),
    [
        ("--tools", '{"f": {"type": 5}}', "f"),
        ("--tools", '{"f": 0}', "f"),
        ("--result-schemas", '{"f": {"required": "x"}}', "f"),
        ("--config", "tool_schemas:\n  f:\n    type: 5\n", "tool_schemas.f"),
    ],
)
def test_an_unusable_configured_schema_names_the_file_and_tool(
    tmp_path: Path, option: str, content: str, field: str
) -> None:
    steps = write_jsonl(tmp_path / "s.jsonl", [{"trace_id": "t", "step_id": "1"}])
    cfg = tmp_path / ("cfg.yaml" if option == "--config" else "schemas.json")
    cfg.write_text(content)
    proc = subprocess.run(
        [sys.executable, "-m", "nullband", "traces", "audit", str(steps), option, str(cfg)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert str(cfg) in proc.stderr
    assert f"field '{field}'" in proc.stderr
    if option == "--config":
        assert f"{cfg}:2: " in proc.stderr  # the YAML line of the schema


def test_the_config_model_refuses_an_unusable_schema() -> None:
    with pytest.raises(ValidationError) as err:
        AuditConfig(result_schemas={"ok": {"type": "object"}, "f": {"type": 5}})
    assert err.value.errors()[0]["loc"] == ("result_schemas", "f")
    assert err.value.errors()[0]["msg"].startswith("not a valid JSON Schema: ")
