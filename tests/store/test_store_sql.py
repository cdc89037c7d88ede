"""The SQL store on SQLite and PostgreSQL: round trips, upserts, resume keys, spend."""

from __future__ import annotations

from datetime import UTC, timedelta
from pathlib import Path

import pytest
from store_factories import T0, make_record, make_run

from nullband.errors import StoreError
from nullband.store import LATEST, SqlStore, open_store
from nullband.suite.case import Case


def test_fresh_sqlite_store_creates_folders_and_latest_schema(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "runs.db"
    with open_store(path) as store:
        assert path.is_file()
        assert store.schema_version() == LATEST
    # Opening again applies nothing and keeps the data readable.
    with open_store(path) as store:
        assert store.schema_version() == LATEST


def test_sqlite_runs_in_wal_mode_with_full_sync(sqlite_store: SqlStore) -> None:
    with sqlite_store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        # 2 == FULL: the WAL is fsynced at every commit.
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2


def test_records_round_trip_exactly(store: SqlStore) -> None:
    run = make_run()
    store.create_run(run)
    recs = [
        make_record(run.run_id, "c2", "cand", 1),
        make_record(run.run_id, "c1", "base", 0, status="error", served=None),
        make_record(run.run_id, "c1", "cand", 0, messages=[{"role": "user", "content": "hi"}]),
        make_record(run.run_id, "c2", "cand", 0, score_reasons={"regex": "no match"}),
    ]
    store.write_records(recs)
    got = list(store.iter_records(run.run_id))
    want = sorted(recs, key=lambda r: (r.case_id, r.target, r.epoch))
    assert got == want
    assert all(r.created_at.tzinfo is not None for r in got)
    only_cand = list(store.iter_records(run.run_id, target="cand"))
    assert [(r.case_id, r.epoch) for r in only_cand] == [("c1", 0), ("c2", 0), ("c2", 1)]


def test_write_replaces_by_key_and_completed_keys_are_ok_only(store: SqlStore) -> None:
    run = make_run()
    store.create_run(run)
    store.write_records(
        [
            make_record(run.run_id, "c1", status="error", served=None),
            make_record(run.run_id, "c2"),
        ]
    )
    assert store.completed_keys(run.run_id) == {("c2", "cand", 0)}
    # The resumed call succeeds: the failed record is replaced, not duplicated.
    store.write_records([make_record(run.run_id, "c1", output_text="second try")])
    recs = list(store.iter_records(run.run_id))
    assert len(recs) == 2
    assert recs[0].output_text == "second try"
    assert store.completed_keys(run.run_id) == {("c1", "cand", 0), ("c2", "cand", 0)}


def test_last_record_of_a_batch_wins_for_a_repeated_key(store: SqlStore) -> None:
    run = make_run()
    store.create_run(run)
    store.write_records(
        [
            make_record(run.run_id, "c1", output_text="a"),
            make_record(run.run_id, "c1", output_text="b"),
        ]
    )
    assert [r.output_text for r in store.iter_records(run.run_id)] == ["b"]


def test_spend_sums_cost_and_tokens_of_every_record(store: SqlStore) -> None:
    run = make_run()
    store.create_run(run)
    assert store.spend(run.run_id) == (0.0, 0)
    store.write_records(
        [
            make_record(run.run_id, f"c{i}", cost=0.25, status="error" if i == 2 else "ok")
            for i in range(1, 5)
        ]
    )
    usd, tokens = store.spend(run.run_id)
    assert usd == pytest.approx(1.0)
    assert tokens == 4 * 120


def test_spend_keeps_the_cost_of_calls_a_resume_replaced(store: SqlStore) -> None:
    run = make_run()
    store.create_run(run)
    failed = make_record(run.run_id, "c1", status="error", served=None, cost=0.5, at=T0)
    store.write_records([failed, make_record(run.run_id, "c2", cost=0.1, at=T0)])
    retried = make_record(run.run_id, "c1", cost=0.25, at=T0 + timedelta(minutes=5))
    store.write_records([retried])
    usd, tokens = store.spend(run.run_id)
    assert usd == pytest.approx(0.85)  # both calls of c1 were billed
    assert tokens == 3 * 120
    # Writing the same record again (same completion time) is not a new call.
    store.write_records([retried])
    assert store.spend(run.run_id)[0] == pytest.approx(0.85)
    assert store.run_totals([run.run_id])[run.run_id]["usd"] == pytest.approx(0.85)
    assert len(list(store.iter_records(run.run_id))) == 2


def test_runs_create_get_list_status(store: SqlStore) -> None:
    older = make_run(created_at=T0)
    newer = make_run(created_at=T0 + timedelta(hours=1))
    store.create_run(older)
    store.create_run(newer)
    with pytest.raises(StoreError, match="already exists"):
        store.create_run(older)
    got = store.get_run(older.run_id)
    assert got is not None
    assert got.cases == {
        "c1": {
            "hash": "h1",
            "segments": {"flow": "refund"},
            "weight": 1.0,
            "adversarial": False,
            "cluster": None,
        },
        "c2": {
            "hash": "h2",
            "segments": {"flow": "billing"},
            "weight": 3.0,
            "adversarial": True,
            "cluster": None,
        },
        "c3": {
            "hash": "h3",
            "segments": {},
            "weight": 1.0,
            "adversarial": False,
            "cluster": "conv-1",
        },
    }
    assert got.created_at == T0
    assert got.created_at.tzinfo == UTC
    assert got.targets == older.targets
    assert got.config == older.config
    assert [r.run_id for r in store.list_runs()] == [newer.run_id, older.run_id]
    assert store.list_runs(limit=1)[0].cases == {}
    store.set_status(older.run_id, "stopped_budget", note="USD cap 5.0 reached")
    got = store.get_run(older.run_id)
    assert got is not None
    assert got.status == "stopped_budget"
    assert got.note == "USD cap 5.0 reached"
    assert got.updated_at > got.created_at
    with pytest.raises(StoreError, match="no run"):
        store.set_status("missing", "completed")
    assert store.get_run("missing") is None


def test_ensure_run_creates_once(store: SqlStore) -> None:
    run = make_run()
    first, created = store.ensure_run(run)
    assert created
    assert first.run_id == run.run_id
    again, created = store.ensure_run(make_run(run.run_id, config_hash="other"))
    assert not created
    assert again.config_hash == "cfg0"


def test_update_scores_replaces_scores_only(store: SqlStore) -> None:
    run = make_run()
    store.create_run(run)
    store.write_records([make_record(run.run_id, "c1"), make_record(run.run_id, "c2")])
    store.update_scores(
        run.run_id, [(("c1", "cand", 0), {"pass": 0.0, "f1": None}, {"exact": "differs"})]
    )
    c1, c2 = store.iter_records(run.run_id)
    assert c1.scores == {"pass": 0.0, "f1": None}
    assert c1.score_reasons == {"exact": "differs"}
    assert c1.output_text == "answer to c1 ✓"
    assert c2.scores == {"pass": 1.0}


def test_iter_records_pages_through_everything_once(store: SqlStore) -> None:
    run = make_run()
    store.create_run(run)
    recs = [
        make_record(run.run_id, f"c{i:03d}", t, e)
        for i in range(23)
        for t in ("a", "b")
        for e in (0, 1)
    ]
    store.write_records(recs)
    keys = [(r.case_id, r.target, r.epoch) for r in store.iter_records(run.run_id, chunk=5)]
    assert keys == sorted((r.case_id, r.target, r.epoch) for r in recs)


def test_case_bodies_round_trip_and_keep_run_metadata(store: SqlStore) -> None:
    run = make_run()
    store.create_run(run)
    cases = [
        Case(id="c2", prompt="2+2?", expected="4", segments={"flow": "other"}, weight=1.0),
        Case(id="c9", input=[{"role": "user", "content": "hi"}], expected={"a": 1}),
    ]
    store.write_cases(run.run_id, cases)
    assert list(store.iter_cases(run.run_id)) == cases
    got = store.get_run(run.run_id)
    assert got is not None
    # c2's metadata came from RunInfo (weight 3 from the suite); c9 had none, so its own.
    assert got.cases["c2"]["weight"] == 3.0
    assert got.cases["c9"] == {
        "hash": cases[1].content_hash(),
        "segments": {},
        "weight": 1.0,
        "adversarial": False,
        "cluster": None,
    }


def test_run_totals_and_targets(store: SqlStore) -> None:
    run = make_run()
    store.create_run(run)
    store.write_records(
        [
            make_record(run.run_id, "c1", "cand", served="m-a"),
            make_record(run.run_id, "c2", "cand", served="m-b"),
            make_record(run.run_id, "c3", "base", status="error", served=None),
        ]
    )
    assert store.record_targets(run.run_id) == ["base", "cand"]
    totals = store.run_totals([run.run_id])[run.run_id]
    assert totals["records"] == 3
    assert totals["ok"] == 2
    assert totals["served"] == {"cand": {"m-a": 1, "m-b": 1}}


def test_unsupported_url_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="unsupported store URL"):
        open_store("mysql://u@h/db")


def test_unreachable_postgres_is_a_clear_error_without_password() -> None:
    with pytest.raises(StoreError) as info:
        open_store("postgresql://nb:hunter2@127.0.0.1:1/nothing")
    assert "cannot open the store" in str(info.value)
    assert "hunter2" not in str(info.value)


def test_paging_by_time_crosses_pages_correctly(store: SqlStore) -> None:
    from datetime import timedelta

    run = make_run()
    store.create_run(run)
    # Several records share a timestamp, so the key must break ties by case/target/epoch.
    recs = [
        make_record(run.run_id, f"c{i:03d}", t, at=T0 + timedelta(seconds=i // 3))
        for i in range(40)
        for t in ("a", "b")
    ]
    store.write_records(recs)
    for target in ("a", "b"):
        rows = list(
            store.iter_record_columns(run.run_id, ["status"], target=target, by_time=True, chunk=7)
        )
        got = [(r.created_at, r.case_id, r.target) for r in rows]
        assert got == sorted(
            (r.created_at, r.case_id, r.target) for r in recs if r.target == target
        )
        assert all(r.created_at.tzinfo is not None for r in rows)
    with pytest.raises(ValueError, match="needs a target"):
        next(store.iter_record_columns(run.run_id, ["status"], by_time=True))


def test_iter_records_streams_instead_of_loading_the_run(sqlite_store: SqlStore) -> None:
    import tracemalloc

    run = make_run()
    sqlite_store.create_run(run)
    big = "x" * 4000  # 4,000 records x 4 kB: ~16 MB of output text in the run
    for start in range(0, 4000, 1000):
        sqlite_store.write_records(
            [
                make_record(run.run_id, f"c{i:05d}", output_text=big)
                for i in range(start, start + 1000)
            ]
        )
    tracemalloc.start()
    try:
        n = sum(1 for _ in sqlite_store.iter_records(run.run_id, chunk=200))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert n == 4000
    # One page of 200 records is ~0.8 MB of text (x2 while parsing); loading the run
    # would be over 16 MB. 6 MB leaves room for driver and parser buffers.
    assert peak < 6 * 2**20, peak


def test_store_package_all_is_sorted_and_complete() -> None:
    import types

    import nullband.store as pkg

    public = {
        n
        for n, v in vars(pkg).items()
        if not n.startswith("_") and not isinstance(v, types.ModuleType) and n != "annotations"
    }
    assert pkg.__all__ == sorted(pkg.__all__)
    assert set(pkg.__all__) == public
