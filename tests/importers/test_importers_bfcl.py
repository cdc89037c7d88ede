"""BFCL files -> nullband suites."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from nullband.errors import InputError
from nullband.suite import load_cases
from nullband.suite.importers import import_bfcl, import_bfcl_dir, to_json_schema, write_suite

BFCL_ONLY_TYPES = {"dict", "float", "tuple", "any"}


def _types(schema: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(schema, dict):
        t = schema.get("type")
        if isinstance(t, str):
            found.add(t)
        for v in schema.values():
            found |= _types(v)
    elif isinstance(schema, list):
        for v in schema:
            found |= _types(v)
    return found


def test_every_category_imports_with_json_schema_tools(shared_data: Path):
    cases = import_bfcl_dir(shared_data / "bfcl")
    assert len(cases) == 1000
    assert len({c.id for c in cases}) == 1000
    cats = {c.segments["category"] for c in cases}
    assert cats == {"simple", "multiple", "parallel", "parallel_multiple", "live_simple"}
    for c in cases:
        for tool in c.tools or []:
            fn = tool["function"]
            assert re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", fn["name"]), fn["name"]
            assert not (_types(fn["parameters"]) & BFCL_ONLY_TYPES), c.id
            if c.segments["category"] == "live_simple":  # (the check is slow; one category)
                jsonschema.Draft202012Validator.check_schema(fn["parameters"])
        assert c.metadata["bfcl"]["functions"]  # originals kept for strict scoring


def test_gold_first_values_validate_against_the_converted_schema(shared_data: Path):
    """The converted schemas accept BFCL's own answers (a check on the type mapping)."""
    cases = import_bfcl_dir(shared_data / "bfcl", categories=["simple", "live_simple"])
    bad = []
    for c in cases:
        schemas = {t["function"]["name"]: t["function"]["parameters"] for t in c.tools or []}
        for call in c.expected:
            ((name, params),) = call.items()
            args = {
                k: v[0]
                for k, v in params.items()
                if v and v[0] != "" and not isinstance(v[0], dict)
            }
            schema = schemas[name.replace(".", "_")]
            props = {k: s for k, s in schema.get("properties", {}).items() if k in args}
            errors = list(
                jsonschema.Draft202012Validator(
                    {"type": "object", "properties": props}
                ).iter_errors(args)
            )
            if errors:
                bad.append((c.id, errors[0].message))
    # Three BFCL answers do not fit their own schema (a list where a string or an integer
    # is declared); the converted schema must reject exactly those.
    assert sorted(i for i, _ in bad) == [
        "live_simple_189-114-0",
        "live_simple_71-35-0",
        "simple_python_96",
    ], bad


def test_segments_name_the_tool_when_there_is_one(shared_data: Path):
    cases = {c.id: c for c in import_bfcl_dir(shared_data / "bfcl", limit=3)}
    assert cases["simple_python_1"].segments == {"category": "simple", "tool": "math_factorial"}
    assert len(cases) == 15


def test_type_conversion_is_recursive():
    s = to_json_schema(
        {
            "type": "dict",
            "properties": {
                "a": {"type": "float"},
                "b": {
                    "type": "tuple",
                    "items": {"type": "dict", "properties": {"c": {"type": "any"}}},
                },
                "d": {"type": "array"},
            },
        }
    )
    assert s["type"] == "object"
    assert s["properties"]["a"]["type"] == "number"
    assert s["properties"]["b"]["type"] == "array"
    assert s["properties"]["b"]["items"]["type"] == "object"
    assert "type" not in s["properties"]["b"]["items"]["properties"]["c"]
    assert s["properties"]["d"]["items"] == {}


def test_suite_round_trip(shared_data: Path, tmp_path: Path):
    cases = import_bfcl_dir(shared_data / "bfcl", categories=["parallel"], limit=20)
    n = write_suite(cases, tmp_path / "s.jsonl")
    back = load_cases(tmp_path / "s.jsonl")
    assert n == 20
    assert [c.content_hash() for c in back] == [c.content_hash() for c in cases]


def test_missing_answer_row_names_the_file_and_line(tmp_path: Path):
    q = tmp_path / "x_questions.jsonl"
    a = tmp_path / "x_possible_answers.jsonl"
    q.write_text(
        json.dumps({"id": "x_0", "question": [[{"role": "user", "content": "hi"}]], "function": []})
        + "\n"
    )
    a.write_text("")
    with pytest.raises(InputError, match=r"x_possible_answers.jsonl:1: no answer row"):
        import_bfcl(q, a)
    with pytest.raises(InputError, match="no questions/answers pair"):
        import_bfcl_dir(tmp_path, categories=["simple"])
