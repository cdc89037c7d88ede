"""The traces CLI in-process: ingest, schema, coverage and adversarial check/merge."""

from __future__ import annotations

from pathlib import Path

import orjson
from typer.testing import CliRunner

from nullband._cli.main import app
from nullband.suite.loader import load_cases

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "traces"


def test_ingest_schema_and_coverage(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "steps.jsonl"
    res = runner.invoke(app, ["traces", "ingest", str(EXAMPLES / "steps.jsonl"), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "wrote 120 steps" in res.output
    assert out.read_bytes().count(b"\n") == 120
    res = runner.invoke(app, ["traces", "schema"])
    assert res.exit_code == 0
    schema = orjson.loads(res.output)
    assert {"trace_id", "step_id", "model_served", "fallback_index"} <= set(schema["properties"])
    assert schema["required"] == ["trace_id", "step_id"]
    suite = tmp_path / "suite.jsonl"
    res = runner.invoke(app, ["traces", "to-suite", str(out), "-o", str(suite)])
    assert res.exit_code == 0, res.output
    refunds = tmp_path / "refunds.jsonl"
    refunds.write_bytes(
        b"".join(
            c.model_dump_json().encode() + b"\n"
            for c in load_cases(suite)
            if c.segments.get("task_class") == "refund"
        )
    )
    res = runner.invoke(
        app,
        [
            "traces",
            "coverage",
            str(out),
            "--suite",
            str(refunds),
            "--json",
            "--min-cluster-size",
            "3",
        ],
    )
    assert res.exit_code == 0, res.output
    rep = orjson.loads(res.output)
    assert rep["n_cases"] > 0
    covered = [c for c in rep["clusters"] if c["covered"]]
    assert covered
    assert all("refund" in c["example"] for c in covered)


def test_adversarial_check_and_merge(tmp_path: Path) -> None:
    runner = CliRunner()
    cases = tmp_path / "flagged.jsonl"
    cases.write_text('{"id": "a1", "prompt": "hard one"}\n{"id": "a2", "prompt": "harder"}\n')
    adv = tmp_path / "adv.jsonl"
    assert runner.invoke(app, ["traces", "adversarial", "add", str(adv), str(cases)]).exit_code == 0
    res = runner.invoke(app, ["traces", "adversarial", "check", str(adv)])
    assert res.exit_code == 0
    assert "2 cases" in res.output
    base = tmp_path / "suite.jsonl"
    base.write_text('{"id": "b1", "prompt": "easy"}\n')
    merged = tmp_path / "merged.jsonl"
    res = runner.invoke(
        app,
        [
            "traces",
            "adversarial",
            "merge",
            str(adv),
            "--suite",
            str(base),
            "-o",
            str(merged),
            "--weight",
            "3",
        ],
    )
    assert res.exit_code == 0, res.output
    got = [(c.id, c.adversarial, c.weight) for c in load_cases(merged)]
    assert got == [("b1", False, 1.0), ("a1", True, 3.0), ("a2", True, 3.0)]
