"""The columnar (polars) audit engine gives the reference engine's report, row for row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from traces_helpers import CorpusFiles, write_jsonl

from nullband.errors import InputError
from nullband.traces.audit_models import AuditConfig, AuditReport
from nullband.traces.columnar import audit_file_columnar
from nullband.traces.columnar_schema import accept_expr
from nullband.traces.pipeline import audit_file, load_audit_config
from nullband.traces.synth import RESULT_SCHEMAS, TOOLS
from nullband.traces.validate import SchemaCheck


def _same(a: AuditReport, b: AuditReport) -> None:
    def key(r: AuditReport) -> list[dict[str, Any]]:
        return [t.model_dump() for t in sorted(r.traces, key=lambda t: t.trace_id)]

    assert key(a) == key(b)
    assert a.summary.verdicts == b.summary.verdicts
    assert a.summary.flags == b.summary.flags
    assert a.summary.classes == b.summary.classes
    assert a.summary.n_steps == b.summary.n_steps


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"timing_factor": 1.1, "flag_fast": True, "ignore": ["retry"], "min_class_size": 50},
        {"ground_truth": {}, "pinned": {"gpt-4o-2024-08-06": "gpt-4o-2024-11-20"}},
    ],
)
def test_columnar_engine_gives_the_reference_report(
    planted: CorpusFiles, extra: dict[str, object]
) -> None:
    cfg = load_audit_config(
        tools_path=planted.tools,
        result_schemas_path=planted.results,
        ground_truth_path=planted.truth,
    ).model_copy(update=extra)
    ref = audit_file(planted.steps, cfg, engine="python")
    # 1 MiB blocks: several blocks, parsed by two threads, across trace boundaries
    got = audit_file_columnar(planted.steps, cfg, threads=2, block_mb=1)
    _same(got, ref)
    assert ref.summary.verdicts["corrupted"] > 0
    assert ref.summary.verdicts["noisy"] > 0


def _odd_steps() -> list[dict[str, Any]]:
    call = {"id": "c1", "type": "function", "function": {"name": "search_kb"}}
    return [
        # non-ASCII model names: the rule goes to Python (lower() differs from polars')
        {
            "trace_id": "a",
            "step_id": "a1",
            "model_requested": "Modèle-X",
            "model_served": "modèle-x",
        },
        # escaped string inside the arguments: the compiled check refuses, Python decides
        {
            "trace_id": "b",
            "step_id": "b1",
            "kind": "tool",
            "tool_name": "search_kb",
            "tool_arguments": '{"query": "caf\\u00e9"}',
            "tool_result": {"hits": ["x"]},
            "duration_ms": 5.0,
        },
        # a tool call without arguments (Python's default "{}" fails "required")
        {
            "trace_id": "c",
            "step_id": "c1",
            "output_message": {"role": "assistant", "tool_calls": [call]},
        },
        # a result that is a JSON string holding an object, and one that is a number
        {
            "trace_id": "d",
            "step_id": "d1",
            "kind": "tool",
            "tool_name": "search_kb",
            "tool_arguments": {"query": "q", "top_k": 11},
            "tool_result": '{"hits": ["k"]}',
        },
        {
            "trace_id": "d",
            "step_id": "d2",
            "kind": "tool",
            "tool_name": "crm_lookup",
            "tool_result": 5,
        },
        # an integer written as 3.0 and an exponent (refused by the compiled check)
        {
            "trace_id": "e",
            "step_id": "e1",
            "kind": "tool",
            "tool_name": "search_kb",
            "tool_arguments": '{"query": "q", "top_k": 3.0}',
            "tool_result": {"hits": []},
        },
        {
            "trace_id": "e",
            "step_id": "e2",
            "kind": "tool",
            "tool_name": "create_refund",
            "tool_arguments": '{"order_id": "o", "amount": 1e2, "currency": "EUR"}',
        },
        # empty strings count as missing, like Python's `a or b`
        {
            "trace_id": "f",
            "step_id": "f1",
            "model_served": "",
            "name": "n",
            "task_class": "",
        },
        {
            "trace_id": "f",
            "step_id": "f2",
            "provider_requested": "x",
            "provider_served": "",
            "retry_count": 2,
        },
    ]


def test_odd_rows_give_the_reference_report(tmp_path: Path) -> None:
    p = write_jsonl(tmp_path / "odd.jsonl", _odd_steps())
    cfg = AuditConfig(tool_schemas=TOOLS, result_schemas=RESULT_SCHEMAS)
    ref = audit_file(p, cfg, engine="python")
    _same(audit_file_columnar(p, cfg, threads=1), ref)
    verdicts = {t.trace_id: t.verdict for t in ref.traces}
    # "a": the names differ only in case, so no mismatch; the others carry flags
    assert verdicts["a"] == "clean"
    assert {k for k, v in verdicts.items() if v != "clean"} == {"c", "d", "e", "f"}


def test_a_field_of_another_type_sends_the_block_to_python(tmp_path: Path) -> None:
    # duration_ms as text: polars refuses the block; every row goes to the Python function
    rows = [{"trace_id": f"t{i}", "step_id": "s", "duration_ms": 10.0 + i} for i in range(12)]
    rows.append({"trace_id": "odd", "step_id": "s", "duration_ms": "900"})
    p = write_jsonl(tmp_path / "typed.jsonl", rows)
    ref = audit_file(p, AuditConfig(), engine="python")
    got = audit_file_columnar(p, AuditConfig())
    _same(got, ref)
    assert [f.code for f in next(t for t in got.traces if t.trace_id == "odd").flags] == [
        "slow_span"
    ]


def test_a_step_without_ids_names_the_file_and_byte(tmp_path: Path) -> None:
    first = {"trace_id": "t", "step_id": "1"}
    p = write_jsonl(tmp_path / "bad.jsonl", [first, {"trace_id": "t"}])
    with pytest.raises(InputError, match="trace_id and step_id") as err:
        audit_file_columnar(p)
    assert "bad.jsonl" in str(err.value)
    assert f"byte {len(orjson.dumps(first)) + 1}" in str(err.value)


def test_invalid_json_is_an_input_error(tmp_path: Path) -> None:
    p = tmp_path / "broken.jsonl"
    p.write_bytes(b'{"trace_id": "t", "step_id": "1"}\n{"trace_id": "t", "step_id": \n')
    with pytest.raises(InputError, match="not valid JSON") as err:
        audit_file_columnar(p)
    assert "byte 34" in str(err.value)


def test_blank_lines_are_skipped_like_the_reference(tmp_path: Path) -> None:
    rows = [
        {
            "trace_id": f"t{i % 4}",
            "step_id": f"s{i}",
            "duration_ms": 10.0 + i % 3 + (50 if i == 7 else 0),
            "retry_count": 1 if i == 5 else 0,
        }
        for i in range(20)
    ]
    body = b"".join(
        orjson.dumps(r) + b"\n" + (b"\n   \n" if i in (3, 9) else b"") for i, r in enumerate(rows)
    )
    p = tmp_path / "blank.jsonl"
    p.write_bytes(body + b"\n\n")
    ref = audit_file(p, AuditConfig(), engine="python")
    _same(audit_file_columnar(p, AuditConfig(), block_mb=1), ref)
    assert ref.summary.verdicts == {"clean": 2, "noisy": 2, "corrupted": 0}


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-20, 20) | st.floats(-50, 50) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=5,
)
_keys = st.sampled_from(
    ["query", "top_k", "customer_id", "fields", "order_id", "amount", "currency", "other"]
)


@settings(max_examples=300, deadline=None)
@given(
    tool=st.sampled_from(sorted(TOOLS)),
    obj=st.dictionaries(
        _keys, _json_values | st.sampled_from(["C123456", "USD", "q", 3]), max_size=4
    ),
    spaced=st.booleans(),
)
def test_compiled_checks_accept_only_valid_arguments(
    tool: str, obj: dict[str, Any], spaced: bool
) -> None:
    text = orjson.dumps(obj).decode()
    if spaced:
        text = text.replace(",", " , ").replace(":", ": ")
    expr = accept_expr(pl.col("a"), TOOLS[tool])
    assert expr is not None
    accepted = pl.DataFrame({"a": [text]}).select(expr.alias("x"))["x"][0]
    if accepted:
        # the oracle: jsonschema through the reference check
        assert SchemaCheck(TOOLS[tool]).error(obj) is None, (tool, text)


def test_compiled_checks_accept_the_usual_valid_arguments() -> None:
    # the fast path is taken for ordinary valid values (else every row would go to Python)
    valid = {
        "crm_lookup": ['{"customer_id":"C000123","fields":["tier"]}', '{"customer_id": "C000001"}'],
        "create_refund": ['{"order_id":"O-1","amount":19.5,"currency":"EUR"}'],
        "search_kb": ['{"query":"reset password","top_k":3}'],
    }
    invalid = {
        "crm_lookup": ['{"customer_id":"X1"}', '{"customer_id":"C000123","x":1}', "{}"],
        "create_refund": ['{"order_id":"O-1","amount":-1,"currency":"EUR"}'],
        "search_kb": ['{"query":""}', '{"query":"q","top_k":11}', '{"query":"q","query":"r"}'],
    }
    for tool, texts in valid.items():
        expr = accept_expr(pl.col("a"), TOOLS[tool])
        assert expr is not None
        assert pl.DataFrame({"a": texts}).select(expr.alias("x"))["x"].to_list() == [True] * len(
            texts
        )
    for tool, texts in invalid.items():
        expr = accept_expr(pl.col("a"), TOOLS[tool])
        assert expr is not None
        assert pl.DataFrame({"a": texts}).select(expr.alias("x"))["x"].to_list() == [False] * len(
            texts
        )


def test_schemas_outside_the_subset_are_not_compiled() -> None:
    assert accept_expr(pl.col("a"), {"type": "object", "oneOf": []}) is None
    assert accept_expr(pl.col("a"), {"type": "array"}) is None
    assert (
        accept_expr(pl.col("a"), {"type": "object", "properties": {"x": {"type": "object"}}})
        is None
    )
