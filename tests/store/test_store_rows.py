"""The driver-level write path stores exactly what the SQLAlchemy column types would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from store_factories import make_record, make_run

from nullband.errors import StoreError
from nullband.store import SqlStore
from nullband.store._codec import record_row
from nullband.store.schema import records, run_cases


def test_record_columns_match_the_sqlalchemy_row(store: SqlStore) -> None:
    """Each column read back through the typed tables equals the Core-built row."""
    run = make_run()
    store.create_run(run)
    # A non-UTC offset and zero microseconds: the stored time must still be UTC and sort.
    at = datetime(2026, 5, 1, 14, 0, 0, tzinfo=timezone(timedelta(hours=2)))
    recs = [
        make_record(run.run_id, "c1", at=at),
        make_record(run.run_id, "c2", status="error", served=None, scores={}),
        make_record(run.run_id, "c3", at=datetime(2026, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)),
    ]
    recs[0].provenance.mismatch = True
    store.write_records(recs)
    with store.engine.connect() as conn:
        rows = {r.case_id: r._asdict() for r in conn.execute(select(records))}
    for rec in recs:
        got = rows[rec.case_id]
        want = record_row(rec)
        want["created_at"] = rec.created_at.astimezone(UTC)
        assert {k: got[k] for k in want} == want
        assert got["superseded_cost_usd"] == 0.0
        assert got["superseded_tokens"] == 0
    assert rows["c1"]["created_at"] == datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)


def test_sqlite_times_are_stored_as_sqlalchemy_text(sqlite_store: SqlStore) -> None:
    """Raw SQLite text equals SQLAlchemy's own binding, so old and new rows compare."""
    run = make_run()
    sqlite_store.create_run(run)
    at = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)  # microsecond 0: still 6 digits
    sqlite_store.write_records([make_record(run.run_id, "c1", at=at)])
    with sqlite_store.engine.connect() as conn:
        raw = conn.exec_driver_sql("SELECT created_at, mismatch FROM records").one()
        impl = records.c.created_at.type.dialect_impl(conn.dialect)
        expected = impl.impl_instance.bind_processor(conn.dialect)(  # type: ignore[attr-defined]
            impl.process_bind_param(at, conn.dialect)
        )
    assert raw == (expected, 0) == ("2026-05-01 12:00:00.000000", 0)


def test_case_bodies_keep_metadata_and_use_given_hashes(store: SqlStore) -> None:
    """write_cases upserts bodies over the metadata rows; a given hash is stored as is."""
    from nullband.suite.case import Case

    run = make_run()
    store.create_run(run)
    cases = [Case(id="c1", prompt="p1", expected="a"), Case(id="c9", prompt="p9")]
    store.write_cases(run.run_id, cases, hashes=["given-1", "given-9"])
    with store.engine.connect() as conn:
        got = {
            r.case_id: (r.case_hash, r.weight, r.body is not None)
            for r in conn.execute(select(run_cases).where(run_cases.c.run_id == run.run_id))
        }
    assert got == {
        "c1": ("given-1", 1.0, True),
        "c2": ("h2", 3.0, False),
        "c3": ("h3", 1.0, False),
        "c9": ("given-9", 1.0, True),
    }
    assert [c.id for c in store.iter_cases(run.run_id)] == ["c1", "c9"]


def test_driver_errors_on_the_fast_path_become_store_errors(sqlite_store: SqlStore) -> None:
    """A failing executemany is rolled back and reported as a StoreError (no SQL text)."""
    run = make_run()
    sqlite_store.create_run(run)
    sqlite_store.write_records([make_record(run.run_id, "c1")])
    with sqlite_store.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE records RENAME TO records_gone")
    with pytest.raises(StoreError, match="cannot write records: OperationalError: no such table"):
        sqlite_store.write_records([make_record(run.run_id, "c2")])
    with sqlite_store.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE records_gone RENAME TO records")
    # the failed batch left nothing behind, and the store still works
    assert sqlite_store.completed_keys(run.run_id) == {("c1", "cand", 0)}
    sqlite_store.write_records([make_record(run.run_id, "c2")])
    assert len(sqlite_store.completed_keys(run.run_id)) == 2


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_store_process_payload_rows_equal_the_record_rows(dialect: str) -> None:
    """What a ProcessStore's child builds from a serialised record is the same row."""
    from nullband.store import _rows

    at = datetime(2026, 5, 1, 14, 0, 0, tzinfo=timezone(timedelta(hours=2)))
    recs = [
        make_record("r1", "c2", at=at),
        make_record("r1", "c1", status="error", served=None, scores={}, cost=0.25),
        make_record("r1", "c3", at=datetime(2026, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)),
        make_record("r1", "c2", at=at + timedelta(seconds=1)),  # later duplicate wins
    ]
    recs[0].provenance.mismatch = True
    want = _rows.record_rows(recs, dialect)
    got = _rows.payload_rows([_rows.record_payload(r) for r in recs], dialect)
    assert got == want
    assert [r[1] for r in got] == ["c1", "c2", "c3"]
