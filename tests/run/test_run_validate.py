"""`nullband validate` and `nullband schema`: clear errors with file and line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from runner_helpers import REPO, nullband

GOOD_TARGET = """\
targets:
  - name: cand
    base_url: http://127.0.0.1:9/v1
    model: m-2026-01-01
"""


def _files(tmp_path: Path, config: str, suite: str = '{"id": "a", "prompt": "hi"}\n') -> Path:
    (tmp_path / "suite.jsonl").write_text(suite)
    path = tmp_path / "eval.yaml"
    path.write_text(config)
    return path


def _check_error(res: object, *needles: str) -> None:
    assert res.returncode == 2, res.stderr  # type: ignore[attr-defined]
    err = res.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err


def test_valid_config_passes_and_counts_calls(tmp_path: Path) -> None:
    path = _files(tmp_path, "suite: suite.jsonl\nepochs: 2\n" + GOOD_TARGET)
    res = nullband("validate", str(path))
    assert res.returncode == 0, res.stderr
    assert "1 case(s)" in res.stdout
    assert "2 call(s)" in res.stdout
    assert "warning" not in res.stderr


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    path = _files(tmp_path, "suite: suite.jsonl\ntargets: [\n  - name: x\n")
    _check_error(nullband("validate", str(path)), f"{path}:", "invalid YAML")


def test_unknown_field_names_file_line_and_field(tmp_path: Path) -> None:
    cfg = "suite: suite.jsonl\n" + GOOD_TARGET + "    temprature: 0\n"
    path = _files(tmp_path, cfg)
    _check_error(
        nullband("validate", str(path)), f"{path}:6:", "targets.0.temprature", "unknown field"
    )


def test_suite_line_not_json_names_suite_file_and_line(tmp_path: Path) -> None:
    suite = '{"id": "a", "prompt": "hi"}\n{"id": "b", "prompt": \n'
    path = _files(tmp_path, "suite: suite.jsonl\n" + GOOD_TARGET, suite)
    _check_error(
        nullband("validate", str(path)), f"{tmp_path / 'suite.jsonl'}:2:", "not valid JSON"
    )


def test_duplicate_case_ids(tmp_path: Path) -> None:
    suite = '{"id": "a", "prompt": "hi"}\n{"id": "a", "prompt": "again"}\n'
    path = _files(tmp_path, "suite: suite.jsonl\n" + GOOD_TARGET, suite)
    _check_error(nullband("validate", str(path)), "suite.jsonl:2:", "duplicate case id 'a'")


def test_duplicate_case_ids_across_suites(tmp_path: Path) -> None:
    (tmp_path / "other.jsonl").write_text('{"id": "a", "prompt": "x"}\n')
    path = _files(tmp_path, "suite: [suite.jsonl, {path: other.jsonl, weight: 3}]\n" + GOOD_TARGET)
    _check_error(nullband("validate", str(path)), "other.jsonl", "case id 'a' is also in")


def test_unset_key_variable_names_the_line(tmp_path: Path) -> None:
    cfg = "suite: suite.jsonl\n" + GOOD_TARGET + "    api_key_env: NB_SURELY_UNSET_KEY\n"
    path = _files(tmp_path, cfg)
    for cmd in ("validate", "run"):
        res = nullband(cmd, str(path), env={"NB_SURELY_UNSET_KEY": ""})
        _check_error(res, f"{path}:6:", "NB_SURELY_UNSET_KEY is not set")


def test_missing_suite_file(tmp_path: Path) -> None:
    path = _files(tmp_path, "suite: nowhere.jsonl\n" + GOOD_TARGET)
    _check_error(
        nullband("validate", str(path)), f"{path}:1:", "suite file not found", "nowhere.jsonl"
    )


def test_floating_alias_warns_and_strict_fails(tmp_path: Path) -> None:
    cfg = "suite: suite.jsonl\n" + GOOD_TARGET.replace("m-2026-01-01", "gpt-4o")
    path = _files(tmp_path, cfg)
    res = nullband("validate", str(path))
    assert res.returncode == 0
    assert "warning" in res.stderr
    assert "'gpt-4o' looks like a floating alias" in res.stderr
    assert nullband("validate", str(path), "--strict").returncode == 2
    allowed = _files(tmp_path, cfg + "alias_allow: [gpt-4o]\n")
    assert "warning" not in nullband("validate", str(allowed)).stderr


@pytest.mark.parametrize("name", ["config", "case", "results", "record"])
def test_schema_is_valid_json_schema(name: str) -> None:
    res = nullband("schema", name)
    assert res.returncode == 0, res.stderr
    schema = json.loads(res.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)


def test_example_config_fits_the_published_schema() -> None:
    schema = json.loads(nullband("schema", "config").stdout)
    example = yaml.safe_load((REPO / "examples" / "config.yaml").read_text())
    jsonschema.validate(example, schema)
    assert nullband("schema", "nonsense").returncode == 2
    res = nullband("validate", "examples/config.yaml", env={"NB_API_KEY": "sk-example"})
    assert res.returncode == 0, res.stderr
    assert "100 case(s)" in res.stdout
