"""The tools command group: import, breakdown, rows, passk."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import typer
from typer.testing import CliRunner

from nullband._cli import tools_cmd
from nullband.errors import UsageError
from nullband.records import Record, ResultRow
from nullband.suite import load_cases


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    tools_cmd.register(app)
    return app


@pytest.fixture
def tau(cli: typer.Typer, shared_data: Path, tmp_path: Path) -> tuple[Path, Path]:
    suite, recs = tmp_path / "tau.jsonl", tmp_path / "tau-records.jsonl"
    res = CliRunner().invoke(
        cli,
        [
            "import",
            "taubench",
            str(shared_data / "taubench" / "gpt-4o-airline_tasks0-4_4trials.json"),
            "-o",
            str(suite),
            "--records",
            str(recs),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "wrote 5 cases" in res.output
    return suite, recs


def test_import_bfcl(cli, shared_data, tmp_path):
    out = tmp_path / "b.jsonl"
    res = CliRunner().invoke(
        cli,
        [
            "import",
            "bfcl",
            str(shared_data / "bfcl"),
            "-o",
            str(out),
            "-c",
            "parallel",
            "--limit",
            "7",
        ],
    )
    assert res.exit_code == 0, res.output
    cases = load_cases(out)
    assert len(cases) == 7
    assert {c.segments["category"] for c in cases} == {"parallel"}


def test_passk_on_taubench_records(cli, tau):
    suite, recs = tau
    res = CliRunner().invoke(cli, ["tools", "passk", "--suite", str(suite), "--records", str(recs)])
    assert res.exit_code == 0, res.output
    # tasks 1 and 2 each passed 1 of 4 trials: pass^1 = (1/4 + 1/4) / 5; pass^2 = 0
    assert "pass^1=0.1000 pass^2=0.0000 pass^3=0.0000 pass^4=0.0000" in res.output


def test_breakdown_per_tool_and_paired(cli, tau, tmp_path):
    suite, recs = tau
    res = CliRunner().invoke(
        cli,
        [
            "tools",
            "breakdown",
            "--suite",
            str(suite),
            "--records",
            str(recs),
            "--json",
            "--resamples",
            "200",
        ],
    )
    assert res.exit_code == 0, res.output
    rows = orjson.loads(res.output)
    sel = {r["tool"]: r for r in rows if r["metric"] == "selection"}
    assert sel["book_reservation"]["n"] > 0
    assert sel["(all)"]["ci"] is not None
    # a second target with the very same trials: every paired delta must be 0
    lines = recs.read_bytes().splitlines()
    both = tmp_path / "both.jsonl"
    with both.open("wb") as fh:
        for raw in lines:
            rec = Record.model_validate_json(raw)
            fh.write(raw + b"\n")
            fh.write(rec.model_copy(update={"target": "copy"}).model_dump_json().encode() + b"\n")
    res = CliRunner().invoke(
        cli,
        [
            "tools",
            "breakdown",
            "--suite",
            str(suite),
            "--records",
            str(both),
            "--baseline",
            "gpt-4o",
            "--candidate",
            "copy",
            "--json",
            "--resamples",
            "200",
        ],
    )
    assert res.exit_code == 0, res.output
    deltas = orjson.loads(res.output)
    assert deltas
    assert all(d["summary"] is None or d["summary"]["delta"] in (0.0, None) for d in deltas)
    table = CliRunner().invoke(
        cli,
        [
            "tools",
            "breakdown",
            "--suite",
            str(suite),
            "--records",
            str(both),
            "--baseline",
            "gpt-4o",
            "--candidate",
            "copy",
            "-m",
            "arg_f1",
            "--resamples",
            "200",
        ],
        env={"COLUMNS": "200"},
    )
    assert "book_reservation" in table.output
    assert "arg_f1" in table.output


def test_rows_for_compare(cli, tau, tmp_path):
    suite, recs = tau
    out = tmp_path / "rows.jsonl"
    res = CliRunner().invoke(
        cli,
        [
            "tools",
            "rows",
            "--suite",
            str(suite),
            "--records",
            str(recs),
            "--target",
            "gpt-4o",
            "-o",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    rows = [ResultRow.model_validate_json(x) for x in out.read_bytes().splitlines()]
    assert all("::" in r.case_id and "tool" in r.segments for r in rows)


def test_usage_errors(cli, tau):
    suite, recs = tau
    res = CliRunner().invoke(cli, ["tools", "breakdown", "--records", str(recs)])
    assert isinstance(res.exception, UsageError)
    res = CliRunner().invoke(
        cli,
        [
            "tools",
            "breakdown",
            "--suite",
            str(suite),
            "--records",
            str(recs),
            "--baseline",
            "gpt-4o",
        ],
    )
    assert isinstance(res.exception, UsageError)
    res = CliRunner().invoke(
        cli, ["tools", "breakdown", "--suite", str(suite), "--records", str(recs), "-m", "speed"]
    )
    assert "unknown signal" in str(res.exception)


def test_trajectories_summary(cli, tau):
    suite, recs = tau
    res = CliRunner().invoke(
        cli,
        [
            "tools",
            "trajectories",
            "--suite",
            str(suite),
            "--records",
            str(recs),
            "--resamples",
            "300",
        ],
    )
    assert res.exit_code == 0, res.output
    assert res.output.startswith("gpt-4o: 20 trajectories")
    assert "pass^1=0.100" in res.output
