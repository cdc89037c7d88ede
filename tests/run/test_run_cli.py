"""`nullband run` as a real child process: SIGKILL and resume, Ctrl-C, shards, secrets."""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from runner_helpers import nullband, popen_nullband, write_eval

from nullband._ids import new_run_id
from nullband.store import open_store
from nullband.store.export import export_results, iter_result_rows
from nullband.testserver.server import TestServer

SECRET = "sk-live-NEVER-STORE-ME-8d2f61b0"


def _export(store_url: str, run_id: str) -> dict[tuple[str, int], dict[str, Any]]:
    with open_store(store_url) as store:
        return {
            (r.case_id, r.epoch): r.model_dump(exclude={"schema_version"})
            for r in iter_result_rows(store, run_id, "cand")
        }


def _wait_for_records(store_url: str, run_id: str, at_least: int, proc: Any) -> None:
    deadline = time.monotonic() + 60
    with open_store(store_url) as store:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                out, err = proc.communicate()
                pytest.fail(f"run ended before it could be stopped: {out} {err}")
            if store.get_run(run_id) is not None and len(store.completed_keys(run_id)) >= at_least:
                return
            time.sleep(0.02)
    pytest.fail("the run made no progress")


STORE_MODES = pytest.mark.parametrize(
    "store_env",
    [{"NULLBAND_STORE_PROCESS": "0"}, {"NULLBAND_STORE_PROCESS": "1"}],
    ids=["store-thread", "store-process"],
)
"""The run's store on the runner's own thread, or served by a child process."""


@pytest.mark.slow
@STORE_MODES
def test_sigkill_then_resume_equals_an_uninterrupted_run(
    tmp_path: Path, store_url: str, store_env: dict[str, str]
) -> None:
    n = 2000
    rng = random.Random(20261204)
    faults = {
        "rate_429": 0.05,
        "retry_after_s": 0.01,
        "rate_500": 0.02,
        "rate_reset": 0.01,
        "rate_malformed": 0.01,
        "rate_timeout": 0.01,
        "hang_s": 30.0,
        "seed": 3,
    }
    server_cfg = {"faults": faults, "latency": {"ttft_s": 0.01}}
    target = {"concurrency": 16, "timeout_s": 1.0}
    with TestServer(server_cfg) as srv:
        cfg = write_eval(tmp_path / "a", srv.base_url, n, store=store_url, target=target)
        run_id = "kill-" + new_run_id()  # unique: the PostgreSQL database is shared
        proc = popen_nullband("run", str(cfg), "--run-id", run_id, "--no-progress", env=store_env)
        _wait_for_records(store_url, run_id, 100, proc)
        time.sleep(rng.uniform(0.0, 0.5))  # a random moment after the first commits
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        with open_store(store_url) as store:
            done_before = store.completed_keys(run_id)
        calls_before = {k: srv.stats.requests(f"{k[0]}/{k[1]}/{k[2]}") for k in done_before}
        assert 0 < len(done_before) < n, "the kill must land mid-run"
        resumed = nullband("run", str(cfg), "--run-id", run_id, "--no-progress", env=store_env)
        assert resumed.returncode == 0, resumed.stderr
        # no completed case was called again
        for k, c in calls_before.items():
            assert srv.stats.requests(f"{k[0]}/{k[1]}/{k[2]}") == c, k
    with TestServer(server_cfg) as srv2:
        other = tmp_path / "b"
        cfg2 = write_eval(other, srv2.base_url, n, store=str(other / "runs.db"), target=target)
        clean = nullband("run", str(cfg2), "--run-id", "clean", "--no-progress")
        assert clean.returncode == 0, clean.stderr
    killed_rows = _export(store_url, run_id)
    clean_rows = _export(str(other / "runs.db"), "clean")
    assert len(killed_rows) == n
    assert killed_rows == clean_rows  # case for case: scores, segments, model, error


@pytest.mark.slow
@STORE_MODES
def test_sigint_stops_cleanly_and_resumes(tmp_path: Path, store_env: dict[str, str]) -> None:
    store_url = str(tmp_path / "runs.db")
    with TestServer({"latency": {"ttft_s": 0.03}}) as srv:
        cfg = write_eval(tmp_path, srv.base_url, 600, store=store_url, target={"concurrency": 8})
        proc = popen_nullband("run", str(cfg), "--run-id", "ctrlc", "--no-progress", env=store_env)
        _wait_for_records(store_url, "ctrlc", 40, proc)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        assert "Traceback" not in err
        assert "interrupted" in out
        with open_store(store_url) as store:
            run = store.get_run("ctrlc")
            assert run is not None
            assert run.status == "interrupted"
            done = len(store.completed_keys("ctrlc"))
        assert 40 <= done < 600
        again = nullband(
            "run", str(cfg), "--run-id", "ctrlc", "--no-progress", "--json", env=store_env
        )
        assert again.returncode == 0, again.stderr
        assert '"status": "completed"' in again.stdout
        assert f'"skipped": {done}' in again.stdout
    assert not any(srv.stats.after_success().values())


@pytest.mark.slow
@STORE_MODES
def test_four_shards_into_one_run_lose_and_duplicate_nothing(
    tmp_path: Path, store_url: str, store_env: dict[str, str]
) -> None:
    n = 800
    with TestServer({"latency": {"ttft_s": 0.002}}) as srv:
        cfg = write_eval(tmp_path, srv.base_url, n, store=store_url, target={"concurrency": 8})
        run_id = "shards-" + new_run_id()  # unique: the PostgreSQL database is shared
        procs = [
            popen_nullband(
                "run",
                str(cfg),
                "--run-id",
                run_id,
                "--shard",
                f"{i}/4",
                "--no-progress",
                "--json",
                env=store_env,
            )
            for i in range(1, 5)
        ]
        outs = [p.communicate(timeout=120) for p in procs]
        for p, (_out, err) in zip(procs, outs, strict=True):
            assert p.returncode == 0, err
        snap = srv.stats.snapshot()
    with open_store(store_url) as store:
        keys = [(r.case_id, r.target, r.epoch) for r in store.iter_records(run_id)]
        run = store.get_run(run_id)
    assert len(keys) == n
    assert set(keys) == {(f"c{i:05d}", "cand", 0) for i in range(n)}
    assert snap["total_requests"] == n  # each key called exactly once across the shards
    assert all(c["requests"] == 1 for c in snap["cases"].values())
    assert run is not None
    assert run.status == "completed"
    totals = [int(o.split('"total": ')[1].split(",")[0]) for o, _ in outs]
    assert sum(totals) == n
    assert min(totals) > 0


def test_key_never_appears_in_store_exports_or_output(tmp_path: Path) -> None:
    store_url = str(tmp_path / "runs.db")
    env = {"NB_SECRET_KEY": SECRET}
    with TestServer({"api_key": SECRET}) as srv:  # the server demands the key
        cfg = write_eval(
            tmp_path, srv.base_url, 50, store=store_url, target={"api_key_env": "NB_SECRET_KEY"}
        )
        ok = nullband("run", str(cfg), "--run-id", "sec-ok", "--json", env=env)
        assert ok.returncode == 0, ok.stderr
        assert '"ok": 50' in ok.stdout  # the key was sent and accepted
        # A wrong key: every call fails with 401; the error text must not carry a key.
        bad = nullband("run", str(cfg), "--run-id", "sec-bad", env={"NB_SECRET_KEY": SECRET[::-1]})
        assert bad.returncode == 0, bad.stderr
    outputs = [ok.stdout, ok.stderr, bad.stdout, bad.stderr]
    with open_store(store_url) as store:
        for run_id in ("sec-ok", "sec-bad"):
            for fmt in ("jsonl", "parquet"):
                n = export_results(store, run_id, tmp_path / f"{run_id}.{fmt}", "cand", fmt)
                assert n == 50
            outputs.append(repr(store.get_run(run_id)))
    for cmd in (["runs", "--store", store_url], ["export", "sec-bad", "--store", store_url]):
        res = nullband(*cmd)  # the store CLI, when it is there: its output is checked too
        outputs += [res.stdout, res.stderr]
    blobs = [p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()]
    for blob in blobs:
        assert SECRET.encode() not in blob
        assert SECRET[::-1].encode() not in blob
    for text in outputs:
        assert SECRET not in text
        assert SECRET[::-1] not in text
    with open_store(store_url) as store:
        recs = list(store.iter_records("sec-bad"))
    assert recs
    assert all(r.status == "error" and r.error_class == "client" for r in recs)
