"""The store served by a child process: same answers as the store itself, errors carried
back, a dead child reported, and a child that outlives no parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from store_factories import make_record, make_run

from nullband.errors import StoreError
from nullband.store import open_store
from nullband.store.process import ProcessStore


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "runs.db")
    return str(request.getfixturevalue("fresh_pg"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its new parent) counts as gone
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().split(")")[-1].split()[0] != "Z"


def test_writes_through_the_child_read_back_identically(url: str) -> None:
    run = make_run()
    with open_store(url) as direct:
        direct.create_run(run)
    recs = [make_record(run.run_id, c) for c in ("c1", "c2", "c3")]
    recs.append(make_record(run.run_id, "c2", status="error", served=None, cost=0.5))
    proc = ProcessStore(url)
    try:
        proc.write_records(recs)  # c2 twice in one batch: the later record wins
        proc.set_status(run.run_id, "completed", "done")
        keys = proc.completed_keys(run.run_id)
        spend = proc.spend(run.run_id)
        totals = proc.run_totals([run.run_id])[run.run_id]
        via_child = list(proc.iter_records(run.run_id))
        got = proc.get_run(run.run_id, with_cases=False)
    finally:
        proc.close()
    assert keys == {("c1", "cand", 0), ("c3", "cand", 0)}
    assert spend[0] == pytest.approx(0.002 + 0.5 + 0.002)
    assert int(totals["records"]) == 3
    assert got is not None
    assert got.status == "completed"
    assert got.note == "done"
    with open_store(url) as direct:
        stored = list(direct.iter_records(run.run_id))
    assert stored == via_child
    assert [r.model_dump() for r in stored] == [
        r.model_dump() for r in (recs[0], recs[3], recs[2])
    ]  # the same records the caller built, error record included


def test_child_errors_come_back_as_the_same_class_and_message(tmp_path: Path) -> None:
    proc = ProcessStore(str(tmp_path / "runs.db"))
    try:
        with pytest.raises(StoreError, match="no run nope"):
            proc.set_status("nope", "completed")
        # the child keeps serving after an error
        assert proc.completed_keys("nope") == set()
        with pytest.raises(StoreError, match="refusing to run"):
            proc.run_function("os:getcwd")
    finally:
        proc.close()
    proc.close()  # idempotent
    with pytest.raises(StoreError, match="already closed"):
        proc.spend("x")


def test_a_dead_child_is_reported_not_hung(tmp_path: Path) -> None:
    proc = ProcessStore(str(tmp_path / "runs.db"))
    pid = proc._proc.pid
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(StoreError, match=r"store process exited \(status -9\)"):
        proc.spend("x")
    proc.close()


def test_unopenable_store_fails_at_start_with_the_stores_message(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="cannot create the folder"):
        ProcessStore(str(blocker / "sub" / "runs.db"))


def test_child_ignores_ctrl_c_and_exits_when_its_parent_is_killed(tmp_path: Path) -> None:
    parent_code = (
        "import sys, time\n"
        "from nullband.store.process import ProcessStore\n"
        f"p = ProcessStore({str(tmp_path / 'runs.db')!r})\n"
        "print(p._proc.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", parent_code], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    try:
        os.kill(child, signal.SIGINT)  # Ctrl-C is the parent's to handle
        time.sleep(0.3)
        assert _alive(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child), "the store process outlived its killed parent"
    finally:
        if _alive(child):
            os.kill(child, signal.SIGKILL)
