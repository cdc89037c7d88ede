"""Suite files: valid cases load; every malformed line names file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from nullband.errors import SuiteError
from nullband.suite import Case, load_cases


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "suite.jsonl"
    p.write_text(text)
    return p


def test_loads_prompt_and_chat_cases(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        '{"id": "a", "prompt": "2+2?", "expected": "4", "segments": {"kind": "math"}}\n'
        "\n"
        '{"id": "b", "input": [{"role": "user", "content": "hi"}], "weight": 3}\n',
    )
    cases = load_cases(p)
    assert [c.id for c in cases] == ["a", "b"]
    assert cases[0].messages() == [{"role": "user", "content": "2+2?"}]
    assert cases[1].weight == 3.0


def test_not_json_names_line(tmp_path: Path) -> None:
    p = write(tmp_path, '{"id": "a", "prompt": "x"}\n{"id": "b", "prompt": \n')
    with pytest.raises(SuiteError) as err:
        load_cases(p)
    assert f"{p}:2:" in str(err.value)
    assert "not valid JSON" in str(err.value)


def test_unknown_field_names_line_and_field(tmp_path: Path) -> None:
    p = write(tmp_path, '{"id": "a", "prompt": "x", "expectd": "y"}\n')
    with pytest.raises(SuiteError) as err:
        load_cases(p)
    assert err.value.line == 1
    assert err.value.field == "expectd"
    assert "allowed fields" in str(err.value)


def test_duplicate_ids_name_both_lines(tmp_path: Path) -> None:
    p = write(tmp_path, '{"id": "a", "prompt": "x"}\n{"id": "a", "prompt": "y"}\n')
    with pytest.raises(SuiteError, match=r"duplicate case id 'a' \(first seen on line 1\)"):
        load_cases(p)


def test_needs_exactly_one_of_input_and_prompt(tmp_path: Path) -> None:
    p = write(tmp_path, '{"id": "a"}\n')
    with pytest.raises(SuiteError, match="exactly one of 'input'"):
        load_cases(p)


def test_content_hash_ignores_id_and_tags_but_not_content() -> None:
    a = Case(id="a", prompt="x", expected="1", segments={"k": "v"})
    b = Case(id="b", prompt="x", expected="1", weight=2)
    c = Case(id="a", prompt="x", expected="2")
    assert a.content_hash() == b.content_hash()
    assert a.content_hash() != c.content_hash()
