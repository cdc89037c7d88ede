"""Durability and concurrency with real processes: kill -9, and four shard writers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from store_factories import make_record, make_run

from nullband.store import open_store

HERE = Path(__file__).resolve().parent

# A writer process: writes batches of records for its shard and prints each batch's last
# key only after write_records returned (the moment the runner would count it done).
WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {here!r})
    from store_factories import make_record, make_run
    from nullband.store import open_store

    url, run_id, shard, n_shards, n_cases, batch = sys.argv[1:7]
    shard, n_shards, n_cases, batch = int(shard), int(n_shards), int(n_cases), int(batch)
    store = open_store(url)
    store.ensure_run(make_run(run_id))
    mine = [i for i in range(n_cases) if i % n_shards == shard]
    for start in range(0, len(mine), batch):
        chunk = mine[start:start + batch]
        recs = [make_record(run_id, f"c{{i:06d}}", "cand", e) for i in chunk for e in (0, 1)]
        # A resumed shard rewrites a record it already wrote: must not duplicate.
        if start:
            recs.append(make_record(run_id, f"c{{mine[start - 1]:06d}}", "cand", 0))
        store.write_records(recs)
        print(chunk[-1], flush=True)
    store.close()
    """
).format(here=str(HERE))


def _spawn(
    url: str, run_id: str, shard: int, n_shards: int, n_cases: int, batch: int
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            WRITER,
            url,
            run_id,
            str(shard),
            str(n_shards),
            str(n_cases),
            str(batch),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_records_acknowledged_before_kill_9_survive(tmp_path: Path) -> None:
    url = str(tmp_path / "runs.db")
    run = make_run()
    proc = _spawn(url, run.run_id, 0, 1, 1_000_000, 16)
    acked: list[int] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        acked.append(int(line))
        if len(acked) == 40:
            break
    os.kill(proc.pid, signal.SIGKILL)  # mid-write: the child never stops between batches
    proc.wait(timeout=30)
    with open_store(url) as store:
        keys = store.completed_keys(run.run_id)
        last = acked[-1]
        want = {(f"c{i:06d}", "cand", e) for i in range(last + 1) for e in (0, 1)}
        assert want <= keys
        # Whatever else is there came in whole batches of 16 cases x 2 epochs.
        assert (len(keys) - len(want)) % 32 == 0
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"


def _run_shards(url: str, n_cases: int) -> None:
    run = make_run()
    procs = [_spawn(url, run.run_id, s, 4, n_cases, 50) for s in range(4)]
    for p in procs:
        _out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
    with open_store(url) as store:
        recs = list(store.iter_records(run.run_id))
        keys = [(r.case_id, r.target, r.epoch) for r in recs]
        assert len(keys) == len(set(keys)) == 2 * n_cases
        assert set(keys) == {(f"c{i:06d}", "cand", e) for i in range(n_cases) for e in (0, 1)}
        assert len(store.list_runs()) == 1
        # Each shard re-called one case per batch after its first: that spend counts too.
        per_shard = [len(range(s, n_cases, 4)) for s in range(4)]
        recalls = sum(-(-n // 50) - 1 for n in per_shard)
        assert store.spend(run.run_id)[1] == (2 * n_cases + recalls) * 120


@pytest.mark.postgres
def test_four_shard_processes_into_postgres_lose_and_duplicate_nothing(fresh_pg: str) -> None:
    _run_shards(fresh_pg, 2000)


def test_four_shard_processes_into_one_sqlite_file(tmp_path: Path) -> None:
    _run_shards(str(tmp_path / "shards.db"), 1000)


def test_the_store_never_holds_an_api_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nullband.config.models import EvalConfig

    secret = "sk-nbtest-" + os.urandom(12).hex()
    monkeypatch.setenv("NB_STORE_TEST_KEY", secret)
    cfg = EvalConfig.model_validate(
        {
            "suite": "suite.jsonl",
            "targets": [
                {
                    "name": "cand",
                    "base_url": "http://127.0.0.1:9/v1",
                    "model": "m-2026-01-01",
                    "api_key_env": "NB_STORE_TEST_KEY",
                }
            ],
        }
    )
    assert cfg.targets[0].api_key() == secret  # the key is really there to leak
    path = tmp_path / "runs.db"
    with open_store(path) as store:
        run = make_run(config=cfg.model_dump(mode="json"))
        store.create_run(run)
        store.write_records([make_record(run.run_id, f"c{i}") for i in range(50)])
        store.set_status(run.run_id, "completed")
        stored = store.get_run(run.run_id)
        assert stored is not None
        assert stored.config["targets"][0]["api_key_env"] == "NB_STORE_TEST_KEY"
    files = list(tmp_path.iterdir())
    assert path in files
    everything = b"".join(f.read_bytes() for f in files)  # database, WAL, shared memory
    assert b"NB_STORE_TEST_KEY" in everything  # the config really is in these files
    assert secret.encode() not in everything
