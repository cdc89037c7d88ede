"""The `compare` and `plan` commands: exit codes, JSON shape, every --format, run ids."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nullband._cli.main import app
from nullband.records import Provenance, Record, ResultRow

Rows = tuple[list[ResultRow], list[ResultRow]]
runner = CliRunner()
GATES = Path(__file__).resolve().parents[2] / "examples" / "gates"


@pytest.fixture
def fn_files(tmp_path: Path, field_notes: Rows, jsonl: Callable[..., Path]) -> tuple[str, str]:
    base, cand = field_notes
    return str(jsonl(tmp_path / "b.jsonl", base)), str(jsonl(tmp_path / "c.jsonl", cand))


def test_field_notes_json_exit_3(fn_files: tuple[str, str]) -> None:
    b, c = fn_files
    res = runner.invoke(
        app,
        [
            "compare",
            b,
            c,
            "--by",
            "customer",
            "--config",
            str(GATES / "promotion.yaml"),
            "--format",
            "json",
        ],
    )
    assert res.exit_code == 3, res.output
    data = json.loads(res.stdout)
    assert data["schema_version"] == 1
    assert data["metric"] == "pass"
    assert data["seed"] == 0
    assert data["resamples"] == 10000
    assert data["overall"]["discordant"] == {"baseline_only": 49, "candidate_only": 67}
    assert data["gate"]["decision"] == "INCONCLUSIVE"
    assert data["gate"]["exit_code"] == 3
    assert {s["segment"] for s in data["segments"]} == {"cust0", "cust1", "cust2", "cust3"}
    assert "NaN" not in res.stdout


@pytest.mark.parametrize("fmt", ["table", "markdown", "junit", "html"])
def test_every_format_states_n_method_level_and_seed(
    fn_files: tuple[str, str], fmt: str, tmp_path: Path
) -> None:
    b, c = fn_files
    out = tmp_path / f"report.{fmt}"
    res = runner.invoke(
        app,
        [
            "compare",
            b,
            c,
            "--by",
            "customer",
            "--config",
            str(GATES / "promotion.yaml"),
            "--format",
            fmt,
            "--output",
            str(out),
            "--seed",
            "7",
        ],
    )
    assert res.exit_code == 3, res.output
    text = out.read_text()
    assert "840" in text
    assert "paired-bootstrap-percentile" in text
    assert "0.95" in text
    assert "seed" in text
    assert "7" in text
    if fmt == "junit":
        root = ET.fromstring(text)
        cases = root.findall(".//testcase")
        names = [tc.get("name") for tc in cases]
        # one test case per rule, per validity check and per gated segment
        assert "better-overall" in names
        assert "no-customer-regresses" in names
        assert sum(1 for n in names if n and n.startswith("customer=")) == 4
        assert root.find(".//testcase[@name='better-overall']/skipped") is not None
    if fmt == "html":
        assert "<svg" in text
        assert "<script" not in text
        assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_fail_and_pass_exit_codes(
    tmp_path: Path, forty_segments: Rows, jsonl: Callable[..., Path]
) -> None:
    base, cand = forty_segments
    b, c = str(jsonl(tmp_path / "b.jsonl", base)), str(jsonl(tmp_path / "c.jsonl", cand))
    res = runner.invoke(
        app, ["compare", b, c, "--config", str(GATES / "customer-floor.yaml"), "--format", "json"]
    )
    assert res.exit_code == 1
    gate = tmp_path / "ni.yaml"
    gate.write_text("rules:\n  - kind: non_inferiority\n    margin: 0.02\n")
    res = runner.invoke(app, ["compare", b, c, "--config", str(gate)])
    assert res.exit_code == 0, res.output
    assert "PASS" in res.stdout


def test_input_errors_exit_2(tmp_path: Path, fn_files: tuple[str, str]) -> None:
    b, c = fn_files
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"case_id": "x", "scores": {"pass": 1}}\n{not json\n')
    res = runner.invoke(app, ["compare", str(bad), c])
    assert res.exit_code == 2
    assert "bad.jsonl:2" in res.stderr
    gate = tmp_path / "g.yaml"
    gate.write_text("rules:\n  - kind: non_inferiority\n    margin: 1\n")
    res = runner.invoke(app, ["compare", b, c, "--config", str(gate)])
    assert res.exit_code == 2
    assert "g.yaml:3" in res.stderr
    assert "0.01" in res.stderr
    res = runner.invoke(app, ["compare", "no-such-run", c, "--store", str(tmp_path / "none.db")])
    assert res.exit_code == 2


def test_subprocess_exit_code_and_help(fn_files: tuple[str, str]) -> None:
    b, c = fn_files
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "nullband",
            "compare",
            b,
            c,
            "--config",
            str(GATES / "promotion.yaml"),
            "--by",
            "customer",
            "--resamples",
            "2000",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 3, proc.stderr
    assert "INCONCLUSIVE" in proc.stdout
    for cmd in ("compare", "plan"):
        res = runner.invoke(app, [cmd, "--help"])
        assert res.exit_code == 0
        assert "Example: nullband" in res.stdout


def test_plan_numbers(fn_files: tuple[str, str]) -> None:
    res = runner.invoke(
        app,
        [
            "plan",
            "--baseline-rate",
            "0.713",
            "--discordance",
            "0.138",
            "--effect",
            "0.02",
            "--cases",
            "840",
            "--format",
            "json",
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert 2650 < data["sample_sizes"][0]["paired"] < 2750
    assert data["sample_sizes"][0]["unpaired_per_arm"] > 7000
    assert round(data["mdes"][0]["paired"] * 100, 1) == 3.6
    b, c = fn_files
    res = runner.invoke(
        app, ["plan", "--baseline", b, "--candidate", c, "--effect", "0.02", "--format", "json"]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["discordance"] == pytest.approx(116 / 840)
    assert data["discordance_source"] == "previous runs"
    res = runner.invoke(app, ["plan", "--effect", "2"])
    assert res.exit_code == 2


def test_compare_run_ids_from_the_store(tmp_path: Path) -> None:
    from nullband.store import open_store
    from nullband.store.base import RunInfo

    db = tmp_path / "runs.db"
    store = open_store(db)
    now = datetime.now(UTC)
    cases = {
        f"s{i:03d}": {
            "hash": f"h{i}",
            "segments": {"customer": f"c{i % 2}"},
            "weight": 1.0,
            "adversarial": False,
            "cluster": None,
        }
        for i in range(100)
    }
    for run_id, model, passes in (("01RUNBASE", "m/base", 60), ("01RUNCAND", "m/cand", 70)):
        store.create_run(
            RunInfo(
                run_id=run_id,
                created_at=now,
                updated_at=now,
                status="completed",
                config_hash="x",
                targets={"t": model},
                cases=cases,
                n_cases=100,
            )
        )
        store.write_records(
            [
                Record(
                    run_id=run_id,
                    case_id=f"s{i:03d}",
                    case_hash=f"h{i}",
                    target="t",
                    request_hash="r",
                    status="ok",
                    output_text="ok",
                    provenance=Provenance(requested=model, served=model.split("/")[1]),
                    scores={"pass": float(i < passes)},
                    created_at=now,
                )
                for i in range(100)
            ]
        )
    from nullband.store.export import export_results

    pq_b, pq_c = tmp_path / "b.parquet", tmp_path / "c.parquet"
    export_results(store, "01RUNBASE", pq_b, "t", fmt="parquet")
    export_results(store, "01RUNCAND", pq_c, "t", fmt="parquet")
    store.close()
    res = runner.invoke(
        app, ["compare", str(pq_b), str(pq_c), "--by", "customer", "--format", "json"]
    )
    assert res.exit_code == 0, res.output
    from_parquet = json.loads(res.stdout)
    res = runner.invoke(
        app,
        [
            "compare",
            "01RUNBASE",
            "01RUNCAND",
            "--store",
            str(db),
            "--target",
            "t",
            "--by",
            "customer",
            "--format",
            "json",
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["overall"]["n"] == 100
    assert data["overall"]["delta"] == pytest.approx(0.10)
    assert data["overall"]["discordant"] == {"baseline_only": 0, "candidate_only": 10}
    assert data["overall"]["ci_method"] == "newcombe"  # one empty discordant cell
    assert {s["segment"] for s in data["segments"]} == {"c0", "c1"}
    assert data["gate"] is None
    assert from_parquet["overall"] == data["overall"]  # parquet and run ids agree


def test_plan_refuses_continuous_previous_runs(
    tmp_path: Path, make_row: Callable[..., ResultRow], jsonl: Callable[..., Path]
) -> None:
    base = [make_row(f"c{i}", 0.3 + i / 100, model="m/a") for i in range(30)]
    cand = [make_row(f"c{i}", 0.35 + i / 100, model="m/b") for i in range(30)]
    b, c = jsonl(tmp_path / "b.jsonl", base), jsonl(tmp_path / "c.jsonl", cand)
    res = runner.invoke(
        app, ["plan", "--baseline", str(b), "--candidate", str(c), "--effect", "0.02"]
    )
    assert res.exit_code == 2
    assert "pass/fail metric" in res.stderr
