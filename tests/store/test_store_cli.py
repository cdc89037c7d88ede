"""The store commands as a user runs them: runs, export, drift, score (real processes)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from store_factories import make_record, make_run

from nullband.store import SqlStore, open_store
from nullband.suite.case import Case


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def nb_process(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run `nullband ...` in a subprocess, exactly as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "nullband", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=cwd,
        timeout=120,
    )


@pytest.fixture
def nb(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Result]:
    """Run `nullband ...` in this process through the real entry point (exit codes and
    error printing included); a subprocess per call costs seconds on a loaded machine."""
    from nullband._cli.main import main

    monkeypatch.setenv("COLUMNS", "200")

    def run(*args: str, env: dict[str, str] | None = None) -> Result:
        for k, v in (env or {}).items():
            monkeypatch.setenv(k, v)
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out = capsys.readouterr()
        return Result(code, out.out, out.err)

    return run


CASES = [
    Case(id="c1", prompt="2+2?", expected="4", segments={"flow": "refund"}),
    Case(
        id="c2",
        prompt="3+3?",
        expected="6",
        segments={"flow": "billing"},
        weight=3.0,
        adversarial=True,
    ),
    Case(id="c3", prompt="capital of France?", expected="Paris", cluster="conv-1"),
]


def _seed(path: Path, *, bodies: bool = True, served_b: str = "m-2026-01-01") -> str:
    """A run of two targets over CASES; 'cand' answers c3 wrongly, 'base' fails c2."""
    meta = {
        c.id: {
            "hash": c.content_hash(),
            "segments": c.segments,
            "weight": c.weight,
            "adversarial": c.adversarial,
            "cluster": c.cluster,
        }
        for c in CASES
    }
    run = make_run(
        cases=meta,
        targets={"cand": "m-2026-05-01", "base": "m-2026-01-01"},
        config={"suite": "suite.jsonl", "scorers": ["exact"], "targets": []},
        config_path=str(path.parent / "eval.yaml"),
    )
    answers = {"c1": "4", "c2": "6", "c3": "Lyon"}
    with open_store(path) as store:
        store.create_run(run)
        if bodies:
            store.write_cases(run.run_id, CASES)
        recs = []
        for c in CASES:
            recs.append(
                make_record(
                    run.run_id,
                    c.id,
                    "cand",
                    case_hash=c.content_hash(),
                    output_text=answers[c.id],
                    served="m-2026-05-01",
                    scores={},
                )
            )
            failed = c.id == "c2"
            recs.append(
                make_record(
                    run.run_id,
                    c.id,
                    "base",
                    case_hash=c.content_hash(),
                    output_text=None if failed else answers[c.id],
                    status="error" if failed else "ok",
                    served=None if failed else served_b,
                    scores={},
                )
            )
        store.write_records(recs)
    return run.run_id


def test_runs_lists_runs_as_json_and_table(tmp_path: Path, nb: Callable[..., Result]) -> None:
    db = tmp_path / "runs.db"
    run_id = _seed(db, served_b="m-other")
    res = nb("runs", "--store", str(db), "--format", "json")
    assert res.returncode == 0, res.stderr
    (item,) = orjson.loads(res.stdout)
    assert item["run_id"] == run_id
    assert item["targets"] == {"cand": "m-2026-05-01", "base": "m-2026-01-01"}
    assert (item["records"], item["ok"], item["n_cases"]) == (6, 5, 3)
    assert item["spend_usd"] == pytest.approx(6 * 0.002)
    assert item["served"] == {"cand": {"m-2026-05-01": 3}, "base": {"m-other": 2}}
    table = nb("runs", "--store", str(db), "--drift")
    assert table.returncode == 0, table.stderr
    assert run_id in table.stdout
    assert "m-other (!) x2" in table.stdout  # served differs from the pinned model


def test_store_comes_from_the_environment(tmp_path: Path, nb: Callable[..., Result]) -> None:
    db = tmp_path / "env.db"
    run_id = _seed(db)
    res = nb("runs", "--format", "json", env={"NULLBAND_STORE": str(db)})
    assert [r["run_id"] for r in orjson.loads(res.stdout)] == [run_id]


def test_missing_store_is_exit_2_and_creates_nothing(tmp_path: Path) -> None:
    res = nb_process("runs", cwd=tmp_path, env={"NULLBAND_STORE": ""})
    assert res.returncode == 2
    assert "no store at .nullband/runs.db" in res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / ".nullband").exists()


def test_export_jsonl_parquet_and_target_errors(tmp_path: Path, nb: Callable[..., Result]) -> None:
    db = tmp_path / "runs.db"
    run_id = _seed(db)
    res = nb("export", run_id, "--store", str(db))
    assert res.returncode == 2
    assert "has 2 targets (base, cand)" in res.stderr
    res = nb("export", run_id, "--store", str(db), "--target", "cand")
    assert res.returncode == 0, res.stderr
    rows = [orjson.loads(x) for x in res.stdout.splitlines()]
    assert [(r["case_id"], r["weight"], r["segments"]) for r in rows] == [
        ("c1", 1.0, {"flow": "refund"}),
        ("c2", 3.0, {"flow": "billing"}),
        ("c3", 1.0, {}),
    ]
    out = tmp_path / "base.parquet"
    res = nb(
        "export",
        run_id,
        "--store",
        str(db),
        "--target",
        "base",
        "--format",
        "parquet",
        "-o",
        str(out),
    )
    assert res.returncode == 0, res.stderr
    from nullband.store.export import read_results_parquet

    errors = [r.error for r in read_results_parquet(out)]
    assert errors == [None, "HTTP 500 after 6 attempts", None]
    res = nb("export", run_id, "--store", str(db), "--target", "base", "--format", "parquet")
    assert res.returncode == 2
    assert "give --output FILE" in res.stderr
    res = nb("export", "NOPE", "--store", str(db), "--target", "base")
    assert res.returncode == 2
    assert "no run NOPE" in res.stderr


def test_drift_json_names_where_the_model_changed(
    tmp_path: Path, nb: Callable[..., Result]
) -> None:
    db = tmp_path / "runs.db"
    run = make_run(targets={"cand": "m-pinned"})
    with open_store(db) as store:
        store.create_run(run)
        store.write_records(
            [
                make_record(run.run_id, f"c{i}", served="m-old" if i < 3 else "m-new")
                for i in range(6)
            ]
        )
    res = nb("drift", "--store", str(db), "--format", "json", "--target", "cand")
    assert res.returncode == 0, res.stderr
    report = orjson.loads(res.stdout)
    (within,) = report["within"]
    assert within["drifted"] is True
    assert [(c["case_id"], c["from_served"], c["to_served"]) for c in within["changes"]] == [
        ("c3", "m-old", "m-new")
    ]
    text = nb("drift", run.run_id, "--store", str(db))
    assert text.returncode == 0, text.stderr
    assert "model changed at c3#0" in text.stdout


def _scores(db: Path, run_id: str) -> dict[tuple[str, str], dict[str, float | None]]:
    with open_store(db) as store:
        return {(r.case_id, r.target): r.scores for r in store.iter_records(run_id)}


def test_score_rescores_from_stored_cases_without_the_suite(
    tmp_path: Path, nb: Callable[..., Result]
) -> None:
    db = tmp_path / "runs.db"
    run_id = _seed(db)
    assert not (tmp_path / "suite.jsonl").exists()
    res = nb("score", run_id, "--store", str(db))
    assert res.returncode == 0, res.stderr
    assert "cases from the store" in res.stdout
    assert "cand: 3 records, pass 2/3" in res.stdout
    scores = _scores(db, run_id)
    assert scores[("c1", "cand")]["pass"] == 1.0
    assert scores[("c3", "cand")]["pass"] == 0.0
    assert scores[("c2", "base")] == {}  # a failed call gets no score
    # Another scorer on the command line replaces the scores.
    res = nb("score", run_id, "--store", str(db), "--scorer", "contains")
    assert res.returncode == 0, res.stderr
    assert "with contains" in res.stdout


def test_score_falls_back_to_the_suite_and_refuses_a_changed_case(
    tmp_path: Path, nb: Callable[..., Result]
) -> None:
    db = tmp_path / "runs.db"
    run_id = _seed(db, bodies=False)
    suite = tmp_path / "suite.jsonl"
    suite.write_text("\n".join(c.model_dump_json() for c in CASES) + "\n")
    res = nb("score", run_id, "--store", str(db))
    assert res.returncode == 0, res.stderr
    assert "cases from the suite files" in res.stdout
    assert _scores(db, run_id)[("c1", "cand")]["pass"] == 1.0
    changed = [CASES[0].model_copy(update={"expected": "5"}), *CASES[1:]]
    suite.write_text("\n".join(c.model_dump_json() for c in changed) + "\n")
    res = nb("score", run_id, "--store", str(db))
    assert res.returncode == 2
    assert "case 'c1' changed since the run" in res.stderr


def test_rescore_updates_scores_in_postgres_too(fresh_pg: str) -> None:
    import asyncio

    from nullband.store.rescore import rescore_run

    with open_store(fresh_pg) as store:
        assert isinstance(store, SqlStore)
        run = make_run(cases={"c1": {"hash": CASES[0].content_hash()}})
        store.create_run(run)
        store.write_cases(run.run_id, CASES[:1])
        store.write_records(
            [
                make_record(
                    run.run_id,
                    "c1",
                    case_hash=CASES[0].content_hash(),
                    output_text=" 4 ",
                    scores={},
                )
            ]
        )
        summary = asyncio.run(rescore_run(store, run.run_id, ["exact"]))
        assert summary.targets["cand"].passed == 1
        (rec,) = store.iter_records(run.run_id)
        assert rec.scores["pass"] == 1.0


def test_export_into_a_closed_pipe_is_not_an_error(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    run = make_run(targets={"cand": "m"})
    with open_store(db) as store:
        store.create_run(run)
        # ~1,500 rows of ~300 bytes: more than a pipe buffer holds.
        store.write_records([make_record(run.run_id, f"c{i:05d}") for i in range(1500)])
    proc = subprocess.Popen(
        [sys.executable, "-m", "nullband", "export", run.run_id, "--store", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    _, err = proc.communicate(timeout=120)
    assert orjson.loads(first)["case_id"] == "c00000"
    assert proc.returncode == 0, err
    assert b"Traceback" not in err
