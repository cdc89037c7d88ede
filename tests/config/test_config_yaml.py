"""Eval configs: YAML errors name the file, line, field and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from nullband.config import EvalConfig, load_yaml_model
from nullband.errors import ConfigError

GOOD = """\
suite: suite.jsonl
epochs: 2
targets:
  - name: candidate
    base_url: http://127.0.0.1:8080/v1
    model: acme-agent-2026-05-01
    params: {temperature: 0}
    prices: {input_per_mtok: 0.15, output_per_mtok: 0.60}
budget: {usd: 5.0}
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "eval.yaml"
    p.write_text(text)
    return p


def test_good_config_loads_with_defaults(tmp_path: Path) -> None:
    cfg = load_yaml_model(write(tmp_path, GOOD), EvalConfig)
    assert cfg.epochs == 2
    assert cfg.targets[0].concurrency == 16
    assert [s.name for s in cfg.scorer_specs()] == ["exact"]
    assert cfg.targets[0].prices.cost(1_000_000, 1_000_000) == pytest.approx(0.75)


def test_unknown_field_points_at_its_line(tmp_path: Path) -> None:
    p = write(tmp_path, GOOD.replace("    params:", "    temprature: 0\n    params:"))
    with pytest.raises(ConfigError) as err:
        load_yaml_model(p, EvalConfig)
    assert err.value.line == 7
    assert err.value.field == "targets.0.temprature"
    assert "unknown field" in str(err.value)


def test_wrong_type_points_at_its_line(tmp_path: Path) -> None:
    p = write(tmp_path, GOOD.replace("epochs: 2", "epochs: two"))
    with pytest.raises(ConfigError) as err:
        load_yaml_model(p, EvalConfig)
    assert (err.value.line, err.value.field) == (2, "epochs")


def test_malformed_yaml_names_line(tmp_path: Path) -> None:
    p = write(tmp_path, "suite: [a, b\nepochs: 1\n")
    with pytest.raises(ConfigError) as err:
        load_yaml_model(p, EvalConfig)
    assert "invalid YAML" in str(err.value)
    assert err.value.line is not None


def test_missing_file_and_duplicate_targets(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_yaml_model(tmp_path / "nope.yaml", EvalConfig)
    dup = GOOD + GOOD[GOOD.index("  - name") : GOOD.index("budget")]
    dup = dup.replace("budget: {usd: 5.0}\n", "") + "budget: {usd: 5.0}\n"
    p = write(tmp_path, dup)
    with pytest.raises(ConfigError, match="repeated: candidate"):
        load_yaml_model(p, EvalConfig)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("127.0.0.1:8080/v1", "not an http"),
        ("ftp://models.example/v1", "not an http"),
        ("http:///v1", "not an http"),
        ("http://127.0.0.1:99999/v1", "Port out of range"),
        ("http://127.0.0.1:8080/v1?key=1", "without a query"),
    ],
)
def test_bad_base_url_points_at_its_line(tmp_path: Path, url: str, why: str) -> None:
    p = write(tmp_path, GOOD.replace("http://127.0.0.1:8080/v1", url))
    with pytest.raises(ConfigError, match=why) as err:
        load_yaml_model(p, EvalConfig)
    assert (err.value.line, err.value.field) == (5, "targets.0.base_url")


def test_header_with_a_line_break_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace(
        "    params:", '    headers: {"X-Team": "a\\r\\nX-Injected: 1"}\n    params:'
    )
    with pytest.raises(ConfigError, match="line breaks") as err:
        load_yaml_model(write(tmp_path, text), EvalConfig)
    assert err.value.field == "targets.0.headers"
