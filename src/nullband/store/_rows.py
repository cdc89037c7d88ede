"""The write hot path: pre-built row tuples and driver-level ``executemany`` SQL.

Records and case rows are the only writes whose volume grows with a run. SQLAlchemy Core
would rebuild a parameter dict and run every bind processor per row (measured ~35 us of
CPU per record); here each row is one tuple in column order and the statement text is
built once per dialect, so a batch is one ``cursor.executemany`` inside the store's
usual transaction. The SQL is the same ``INSERT ... ON CONFLICT ... DO UPDATE`` that
:mod:`nullband.store.sql` used through SQLAlchemy (SQLite and PostgreSQL spell it alike);
only the placeholder differs (``?`` for sqlite3, ``%s`` for psycopg).

Values are stored exactly as the SQLAlchemy column types would store them: SQLite keeps
times as naive UTC text ``YYYY-MM-DD HH:MM:SS.ffffff`` (what ``UTCDateTime`` binds) and
booleans as 0/1; PostgreSQL gets tz-aware datetimes and bools. A test checks that rows
written here read back identically through the SQLAlchemy tables.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from nullband.records import Record
from nullband.store._codec import dumps
from nullband.suite.case import Case

RECORD_COLUMNS = (
    "run_id",
    "case_id",
    "target",
    "epoch",
    "case_hash",
    "status",
    "error_class",
    "error",
    "requested_model",
    "routed_model",
    "served_model",
    "fingerprint",
    "provider",
    "mismatch",
    "cost_usd",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "latency_s",
    "created_at",
    "scores",
    "score_reasons",
    "body",
)
"""Columns a record write sets (``superseded_*`` start at their server default 0)."""

RECORD_KEY = ("run_id", "case_id", "target", "epoch")

CASE_COLUMNS = (
    "run_id",
    "case_id",
    "case_hash",
    "segments",
    "weight",
    "adversarial",
    "cluster",
    "body",
)
CASE_KEY = ("run_id", "case_id")

_BODY_EXCLUDE = {"scores", "score_reasons"}


def _placeholder(dialect: str) -> str:
    return "%s" if dialect == "postgresql" else "?"


def _insert(table: str, columns: Sequence[str], dialect: str) -> str:
    ph = _placeholder(dialect)
    cols = ", ".join(f'"{c}"' for c in columns)
    return f'INSERT INTO "{table}" ({cols}) VALUES ({", ".join(ph for _ in columns)})'


def records_upsert_sql(dialect: str) -> str:
    """Insert-or-replace of records by key, handing a replaced call's spend on (v4).

    A record replaced by a new call (another ``created_at``) adds the old row's cost and
    tokens to ``superseded_*``: they were spent. Re-writing the same record (same time)
    hands on nothing. Inside ``DO UPDATE``, ``records.x`` is the old row's value.
    """
    keys = ", ".join(f'"{k}"' for k in RECORD_KEY)
    sets = [f'"{c}" = excluded."{c}"' for c in RECORD_COLUMNS if c not in RECORD_KEY]
    same = 'records."created_at" = excluded."created_at"'
    sets.append(
        f'"superseded_cost_usd" = CASE WHEN {same} THEN records."superseded_cost_usd" '
        'ELSE records."superseded_cost_usd" + records."cost_usd" END'
    )
    sets.append(
        f'"superseded_tokens" = CASE WHEN {same} THEN records."superseded_tokens" '
        'ELSE records."superseded_tokens" + records."input_tokens" + records."output_tokens" END'
    )
    return (
        f"{_insert('records', RECORD_COLUMNS, dialect)} "
        f"ON CONFLICT ({keys}) DO UPDATE SET {', '.join(sets)}"
    )


def cases_upsert_sql(dialect: str, *, bodies: bool) -> str:
    """Case rows: with ``bodies`` an upsert of (body, case_hash), else insert-if-absent."""
    keys = ", ".join(f'"{k}"' for k in CASE_KEY)
    head = _insert("run_cases", CASE_COLUMNS, dialect)
    if not bodies:
        return f"{head} ON CONFLICT ({keys}) DO NOTHING"
    return (
        f'{head} ON CONFLICT ({keys}) DO UPDATE SET "body" = excluded."body", '
        '"case_hash" = excluded."case_hash"'
    )


def _sqlite_time(value: datetime) -> str:
    # What UTCDateTime + SQLAlchemy's SQLite DateTime store: naive UTC, six-digit
    # microseconds ("2026-05-01 12:00:00.000000"); isoformat is ~5x faster than strftime.
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: nullband stores UTC-aware times only")
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def _pg_time(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: nullband stores UTC-aware times only")
    return value


def time_binder(dialect: str) -> Callable[[datetime], Any]:
    """How a tz-aware datetime is passed to the driver for this dialect."""
    return _pg_time if dialect == "postgresql" else _sqlite_time


def bool_binder(dialect: str) -> Callable[[bool], Any]:
    """How a bool is passed to the driver (SQLite stores 0/1)."""
    return bool if dialect == "postgresql" else int


def record_tuple(
    rec: Record, t: Callable[[datetime], Any], b: Callable[[bool], Any]
) -> tuple[Any, ...]:
    """A record as a row tuple in :data:`RECORD_COLUMNS` order."""
    prov = rec.provenance
    usage = rec.usage
    return (
        rec.run_id,
        rec.case_id,
        rec.target,
        rec.epoch,
        rec.case_hash,
        rec.status,
        rec.error_class,
        rec.error,
        prov.requested,
        prov.routed,
        prov.served,
        prov.fingerprint,
        prov.provider,
        b(prov.mismatch),
        rec.cost_usd,
        usage.input_tokens,
        usage.output_tokens,
        usage.cached_tokens,
        rec.latency_s,
        t(rec.created_at),
        dumps(rec.scores) if rec.scores else "{}",
        dumps(rec.score_reasons) if rec.score_reasons else "{}",
        rec.model_dump_json(exclude=_BODY_EXCLUDE),
    )


def record_rows(recs: Sequence[Record], dialect: str) -> list[tuple[Any, ...]]:
    """Row tuples of a batch: one per key (a later record wins), sorted by key, so that
    concurrent writers lock rows in the same order (no deadlocks)."""
    dedup = {(r.run_id, r.case_id, r.target, r.epoch): r for r in recs}
    t, b = time_binder(dialect), bool_binder(dialect)
    return [record_tuple(dedup[k], t, b) for k in sorted(dedup)]


def record_payload(rec: Record) -> tuple[bytes, str, str]:
    """What a :class:`~nullband.store.process.ProcessStore` sends for a record: the body
    (the record's JSON without scores, exactly as :func:`record_tuple` stores it) and the
    two score columns. The child turns it into the row with :func:`payload_tuple`."""
    return (
        rec.__pydantic_serializer__.to_json(rec, exclude=_BODY_EXCLUDE),
        dumps(rec.scores) if rec.scores else "{}",
        dumps(rec.score_reasons) if rec.score_reasons else "{}",
    )


def payload_tuple(
    payload: tuple[bytes, str, str], t: Callable[[datetime], Any], b: Callable[[bool], Any]
) -> tuple[Any, ...]:
    """The :data:`RECORD_COLUMNS` row of a :func:`record_payload` (same values as
    :func:`record_tuple` of the record; a test checks it)."""
    body, scores, reasons = payload
    d = orjson.loads(body)
    prov = d["provenance"]
    usage = d["usage"]
    return (
        d["run_id"],
        d["case_id"],
        d["target"],
        d["epoch"],
        d["case_hash"],
        d["status"],
        d["error_class"],
        d["error"],
        prov["requested"],
        prov["routed"],
        prov["served"],
        prov["fingerprint"],
        prov["provider"],
        b(prov["mismatch"]),
        d["cost_usd"],
        usage["input_tokens"],
        usage["output_tokens"],
        usage["cached_tokens"],
        d["latency_s"],
        t(datetime.fromisoformat(d["created_at"])),
        scores,
        reasons,
        body.decode(),
    )


def payload_rows(payloads: Sequence[tuple[bytes, str, str]], dialect: str) -> list[tuple[Any, ...]]:
    """Rows of a batch of payloads, deduplicated and sorted like :func:`record_rows`."""
    t, b = time_binder(dialect), bool_binder(dialect)
    rows = {}
    for p in payloads:
        row = payload_tuple(p, t, b)
        rows[row[:4]] = row  # (run_id, case_id, target, epoch): a later record wins
    return [rows[k] for k in sorted(rows)]


def case_tuple(
    run_id: str,
    case_id: str,
    meta: dict[str, Any],
    body: str | None,
    b: Callable[[bool], Any],
) -> tuple[Any, ...]:
    """A ``run_cases`` row tuple (in :data:`CASE_COLUMNS` order) from case metadata."""
    return (
        run_id,
        case_id,
        str(meta.get("hash") or meta.get("case_hash") or ""),
        dumps(meta.get("segments") or {}),
        float(meta.get("weight", 1.0)),
        b(bool(meta.get("adversarial", False))),
        meta.get("cluster"),
        body,
    )


def case_body_tuple(
    run_id: str, case: Case, case_hash: str | None, b: Callable[[bool], Any]
) -> tuple[Any, ...]:
    """A ``run_cases`` row with the case body (hash computed unless given)."""
    meta = {
        "hash": case_hash if case_hash is not None else case.content_hash(),
        "segments": case.segments,
        "weight": case.weight,
        "adversarial": case.adversarial,
        "cluster": case.cluster,
    }
    return case_tuple(run_id, case.id, meta, case.model_dump_json(), b)
