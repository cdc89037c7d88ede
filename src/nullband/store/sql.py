"""The store over SQLAlchemy Core: SQLite files and PostgreSQL URLs, one code path.

Only the upsert construct differs by dialect (both spell ``ON CONFLICT ... DO UPDATE``).
Long reads page through keys (``WHERE (a, b, c) > (...) ORDER BY a, b, c LIMIT n``)
instead of holding a cursor open, so 100k records never load at once, no transaction
stays open while a caller works through them, and SQLite and PostgreSQL behave alike.

Durability: every write is one transaction that has committed when the method returns.
SQLite runs in WAL mode with ``synchronous=FULL`` (the WAL is fsynced at each commit, so
a committed batch survives ``kill -9`` and also power loss); PostgreSQL commits with its
default ``synchronous_commit=on`` (WAL flushed before COMMIT returns).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Row,
    Select,
    Table,
    and_,
    bindparam,
    func,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from nullband.errors import StoreError
from nullband.records import Record
from nullband.store import _codec, _rows
from nullband.store.base import RecordKey, RunInfo, RunStatus, Store
from nullband.store.migrations import LATEST, applied_versions
from nullband.store.schema import records, run_cases, runs
from nullband.suite.case import Case


def _is_operational(exc: BaseException) -> bool:
    """A driver-level (DB-API) OperationalError, raised by the executemany hot path."""
    return type(exc).__name__ == "OperationalError"


_CASE_ROWS_SLICE = 5000
"""Case rows built and written per executemany when a run is created."""


def _executemany(conn: Connection, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """``cursor.executemany`` on the driver connection inside ``conn``'s transaction."""
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cur.executemany(sql, rows)
    finally:
        cur.close()


def _describe(exc: BaseException) -> str:
    """The driver's error in one line (no SQL, no parameters: they may hold user data)."""
    orig: BaseException = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return f"{type(orig).__name__}: {lines[0]}" if lines else type(orig).__name__


class SqlStore:
    """A :class:`~nullband.store.base.Store` over one SQLAlchemy engine.

    Build it with :func:`nullband.store.open_store`, which also applies migrations.
    Methods are thread-safe (each takes a pooled connection for one transaction).
    """

    def __init__(self, engine: Engine, *, display_url: str) -> None:
        self.engine = engine
        self.url = display_url
        self.dialect = engine.dialect.name
        # The hot writes (records, case rows) go straight to the driver (see _rows).
        self._records_sql = _rows.records_upsert_sql(self.dialect)
        self._cases_upsert_sql = _rows.cases_upsert_sql(self.dialect, bodies=True)
        self._cases_insert_sql = _rows.cases_upsert_sql(self.dialect, bodies=False)
        self._time = _rows.time_binder(self.dialect)
        self._bool = _rows.bool_binder(self.dialect)
        self._driver_error: type[BaseException] = engine.dialect.loaded_dbapi.Error

    # -- plumbing ---------------------------------------------------------------------

    def _upsert(self, table: Table, keys: Sequence[str], only: Sequence[str] | None = None) -> Any:
        mod: Any = postgresql if self.dialect == "postgresql" else sqlite
        stmt = mod.insert(table)
        cols = [c.name for c in table.columns if c.name not in keys] if only is None else only
        if not cols:
            return stmt.on_conflict_do_nothing(index_elements=list(keys))
        set_: dict[str, Any] = {c: stmt.excluded[c] for c in cols}
        return stmt.on_conflict_do_update(index_elements=list(keys), set_=set_)

    @contextmanager
    def _tx(self, action: str, *, write: bool, run_id: str | None = None) -> Iterator[Connection]:
        try:
            with self.engine.connect() as base:
                conn = base.execution_options(nb_write=write)
                with conn.begin():
                    yield conn
        except StoreError:
            raise
        except (SQLAlchemyError, self._driver_error) as exc:
            hint = None
            if isinstance(exc, OperationalError) or _is_operational(exc):
                hint = "check that the database is reachable and not locked by another program"
            raise StoreError(
                f"store {self.url}: cannot {action}: {_describe(exc)}", run_id=run_id, hint=hint
            ) from exc

    def _pages(
        self,
        stmt: Select[Any],
        order: Sequence[ColumnElement[Any]],
        n_key: int,
        chunk: int,
        action: str,
    ) -> Iterator[Row[Any]]:
        """Rows of ``stmt`` in ``order``; the first ``n_key`` selected columns are ``order``."""
        last: tuple[Any, ...] | None = None
        while True:
            page = stmt
            if last is not None:
                page = page.where(tuple_(*order) > tuple_(*last))
            with self._tx(action, write=False) as conn:
                rows = conn.execute(page.order_by(*order).limit(chunk)).all()
            yield from rows
            if len(rows) < chunk:
                return
            last = tuple(rows[-1][:n_key])

    def schema_version(self) -> int:
        """The highest migration applied to this database."""
        with self._tx("read the schema version", write=False) as conn:
            return max(applied_versions(conn), default=0)

    # -- runs -------------------------------------------------------------------------

    def create_run(self, run: RunInfo) -> None:
        """Insert a new run and its case metadata. Raises StoreError if the id exists."""
        try:
            with self._tx("create the run", write=True, run_id=run.run_id) as conn:
                conn.execute(insert(runs).values(**_codec.run_row(run)))
                self._insert_case_meta(conn, run)
        except StoreError as exc:
            if isinstance(exc.__cause__, IntegrityError):
                raise StoreError(
                    f"run {run.run_id} already exists in {self.url}",
                    run_id=run.run_id,
                    hint="pass this id to resume the run, or leave --run-id out for a new one",
                ) from None
            raise

    def ensure_run(
        self,
        run: RunInfo,
        *,
        cases: Sequence[Case] | None = None,
        hashes: Sequence[str] | None = None,
        with_cases: bool = True,
    ) -> tuple[RunInfo, bool]:
        """Insert the run unless it exists; returns (the stored run, whether it was created).

        Safe when several shard processes start the same run at once: exactly one creates
        it, the others read what it wrote.

        Args:
            run: the run (its ``cases`` metadata goes to ``run_cases``).
            cases: case bodies to store with the metadata when the run is created, in the
                same transaction (each case row is written once; the runner's path).
            hashes: the cases' ``content_hash()`` in order, used for cases that have no
                metadata in ``run.cases``.
            with_cases: read the stored run back with its case metadata (False skips it).
        """
        with self._tx("create the run", write=True, run_id=run.run_id) as conn:
            stmt = self._upsert(runs, ("run_id",), only=()).values(**_codec.run_row(run))
            # RETURNING yields a row only when the insert happened (rowcount is not
            # reliable for DO NOTHING across drivers).
            created = conn.execute(stmt.returning(runs.c.run_id)).first() is not None
            if created:
                self._insert_case_meta(conn, run, cases, hashes)
        stored = self.get_run(run.run_id, with_cases=with_cases)
        if stored is None:  # pragma: no cover - the row was just committed
            raise StoreError(f"run {run.run_id} vanished after it was created", run_id=run.run_id)
        return stored, bool(created)

    def _insert_case_meta(
        self,
        conn: Connection,
        run: RunInfo,
        cases: Sequence[Case] | None = None,
        hashes: Sequence[str] | None = None,
    ) -> None:
        b, rid, meta = self._bool, run.run_id, run.cases
        # In case-id order (one lock order for every writer), built and written a slice at
        # a time: a 100,000-case run never holds all its serialised case rows at once.
        jobs: list[tuple[str, int]] = []
        if cases is not None:
            jobs = [(c.id, i) for i, c in enumerate(cases)]
            have = {c.id for c in cases}
            jobs.extend((cid, -1) for cid in meta if cid not in have)
        else:
            jobs = [(cid, -1) for cid in meta]
        jobs.sort()
        hs: Sequence[str | None] = (
            hashes if hashes is not None else [None] * (len(cases) if cases else 0)
        )

        def row(cid: str, i: int) -> tuple[Any, ...]:
            if i < 0:
                return _rows.case_tuple(rid, cid, meta[cid], None, b)
            c = cases[i]  # type: ignore[index]
            if cid in meta:
                return _rows.case_tuple(rid, cid, meta[cid], c.model_dump_json(), b)
            return _rows.case_body_tuple(rid, c, hs[i], b)

        for k in range(0, len(jobs), _CASE_ROWS_SLICE):
            part = [row(cid, i) for cid, i in jobs[k : k + _CASE_ROWS_SLICE]]
            _executemany(conn, self._cases_insert_sql, part)

    def get_run(self, run_id: str, *, with_cases: bool = True) -> RunInfo | None:
        """The run with its case metadata (unless ``with_cases`` is False), or None."""
        with self._tx("read the run", write=False, run_id=run_id) as conn:
            row = conn.execute(select(runs).where(runs.c.run_id == run_id)).first()
            if row is None:
                return None
            return _codec.run_from_row(row, self._case_meta(conn, run_id) if with_cases else None)

    def _case_meta(self, conn: Connection, run_id: str) -> dict[str, dict[str, Any]]:
        c = run_cases.c
        rows = conn.execute(
            select(c.case_id, c.case_hash, c.segments, c.weight, c.adversarial, c.cluster)
            .where(c.run_id == run_id)
            .order_by(c.case_id)
        )
        return {r[0]: _codec.meta_from_row(*r[1:]) for r in rows}

    def list_runs(self, limit: int = 50, *, with_cases: bool = False) -> list[RunInfo]:
        """Most recent runs first. ``cases`` is left empty unless ``with_cases``."""
        with self._tx("list runs", write=False) as conn:
            rows = conn.execute(
                select(runs).order_by(runs.c.created_at.desc(), runs.c.run_id.desc()).limit(limit)
            ).all()
            return [
                _codec.run_from_row(r, self._case_meta(conn, r.run_id) if with_cases else None)
                for r in rows
            ]

    def set_status(self, run_id: str, status: RunStatus, note: str | None = None) -> None:
        """Record a status change. Raises StoreError for an unknown run."""
        with self._tx("set the run status", write=True, run_id=run_id) as conn:
            n = conn.execute(
                update(runs)
                .where(runs.c.run_id == run_id)
                .values(status=status, note=note, updated_at=datetime.now(UTC))
            ).rowcount
        if n == 0:
            raise StoreError(f"no run {run_id} in {self.url}", run_id=run_id)

    # -- cases ------------------------------------------------------------------------

    def write_cases(
        self, run_id: str, cases: Iterable[Case], hashes: Iterable[str] | None = None
    ) -> None:
        """Store the bodies of a run's cases (so re-scoring needs no suite file).

        Metadata already given in ``RunInfo.cases`` (e.g. a suite weight override) is
        kept; a case without metadata gets it from the case itself. ``hashes`` (the
        cases' ``content_hash()``, in the same order) saves computing them again.
        """
        b = self._bool
        if hashes is None:
            rows = [_rows.case_body_tuple(run_id, c, None, b) for c in cases]
        else:
            rows = [
                _rows.case_body_tuple(run_id, c, h, b) for c, h in zip(cases, hashes, strict=True)
            ]
        if not rows:
            return
        rows.sort(key=lambda r: r[1])  # by case id: concurrent writers lock in one order
        with self._tx("store the cases", write=True, run_id=run_id) as conn:
            _executemany(conn, self._cases_upsert_sql, rows)

    def iter_cases(self, run_id: str, chunk: int = 1000) -> Iterator[Case]:
        """Stored case bodies of a run, by case id (cases stored without a body are skipped)."""
        c = run_cases.c
        stmt = select(c.case_id, c.body).where(c.run_id == run_id, c.body.is_not(None))
        for row in self._pages(stmt, [c.case_id], 1, chunk, "read the cases"):
            yield Case.model_validate_json(row.body)

    # -- records ----------------------------------------------------------------------

    def write_records(
        self, recs: Sequence[Record], *, judge_spend: tuple[float, int] | None = None
    ) -> None:
        """Insert or replace records by (run_id, case_id, target, epoch), in one transaction.

        Durable when this returns. Within one batch, a later record with the same key wins.
        ``judge_spend`` (USD, tokens) is added to the run's judge spend in the same
        transaction (what the run's judge calls cost since the previous batch).
        """
        if not recs:
            return
        rows = _rows.record_rows(recs, self.dialect)
        self.write_record_rows(rows, recs[0].run_id, judge_spend=judge_spend)

    def write_record_rows(
        self,
        rows: Sequence[tuple[Any, ...]],
        run_id: str,
        *,
        judge_spend: tuple[float, int] | None = None,
    ) -> None:
        """Write rows built by :func:`nullband.store._rows.record_rows` (one transaction)."""
        with self._tx("write records", write=True, run_id=run_id) as conn:
            _executemany(conn, self._records_sql, rows)
            if judge_spend is not None and (judge_spend[0] or judge_spend[1]):
                c = runs.c
                conn.execute(
                    update(runs)
                    .where(c.run_id == run_id)
                    .values(
                        judge_cost_usd=c.judge_cost_usd + float(judge_spend[0]),
                        judge_tokens=c.judge_tokens + int(judge_spend[1]),
                    )
                )

    def completed_keys(self, run_id: str) -> set[RecordKey]:
        """Keys of records with status 'ok'."""
        r = records.c
        with self._tx("read completed keys", write=False, run_id=run_id) as conn:
            rows = conn.execute(
                select(r.case_id, r.target, r.epoch).where(r.run_id == run_id, r.status == "ok")
            )
            return {(a, b, int(c)) for a, b, c in rows}

    def iter_records(
        self, run_id: str, target: str | None = None, chunk: int = 1000
    ) -> Iterator[Record]:
        """Records of a run (one target, or all), ordered by case id, target, epoch."""
        r = records.c
        # (case_id, target, epoch) follows the primary key: each page is one index range.
        order = [r.case_id, r.target, r.epoch]
        cond = [r.run_id == run_id] + ([r.target == target] if target is not None else [])
        stmt = select(*order, r.body, r.scores, r.score_reasons).where(*cond)
        for row in self._pages(stmt, order, len(order), chunk, "read records"):
            yield _codec.record_from_row(row.body, row.scores, row.score_reasons)

    def iter_record_columns(
        self,
        run_id: str,
        columns: Sequence[str],
        *,
        target: str | None = None,
        by_time: bool = False,
        chunk: int = 2000,
    ) -> Iterator[Row[Any]]:
        """Hot columns of a run's records without parsing bodies (exports, drift).

        Rows are ordered by (case_id, target, epoch), or with ``by_time`` (which needs a
        ``target``) by (created_at, case_id, epoch); the key columns come first in each
        row, then ``columns``. Both orders follow an index (the primary key, and
        ``ix_records_target_time``), so each page is one range scan.
        """
        r = records.c
        cond = [r.run_id == run_id] + ([r.target == target] if target is not None else [])
        if by_time:
            if target is None:
                raise ValueError("iter_record_columns(by_time=True) needs a target")
            order = [r.created_at, r.case_id, r.epoch]
            stmt = select(*order, r.target, *(r[name] for name in columns)).where(*cond)
        else:
            order = [r.case_id, r.target, r.epoch]
            stmt = select(*order, *(r[name] for name in columns)).where(*cond)
        yield from self._pages(stmt, order, len(order), chunk, "read records")

    def record_targets(self, run_id: str) -> list[str]:
        """Target names that have records in a run, sorted."""
        r = records.c
        with self._tx("read targets", write=False, run_id=run_id) as conn:
            rows = conn.execute(select(r.target).where(r.run_id == run_id).distinct())
            return sorted(t for (t,) in rows)

    def served_pairs(self, run_id: str, target: str) -> list[dict[str, Any]]:
        """(served, fingerprint) pairs of a target's successful records, most records first,
        each with ``n``, ``first_at`` and ``last_at``."""
        r = records.c
        stmt = (
            select(
                r.served_model,
                r.fingerprint,
                func.count(),
                func.min(r.created_at),
                func.max(r.created_at),
            )
            .where(r.run_id == run_id, r.target == target, r.status == "ok")
            .group_by(r.served_model, r.fingerprint)
        )
        with self._tx("summarise served models", write=False, run_id=run_id) as conn:
            rows = conn.execute(stmt).all()
        out = [
            {"served": s, "fingerprint": fp, "n": int(n), "first_at": lo, "last_at": hi}
            for s, fp, n, lo, hi in rows
        ]
        out.sort(key=lambda p: (-p["n"], p["first_at"]))
        return out

    def first_served(
        self, run_id: str, target: str, served: str | None, fingerprint: str | None
    ) -> tuple[str, int, datetime]:
        """(case_id, epoch, time) of the first successful record served by this pair."""
        r = records.c
        stmt = (
            select(r.case_id, r.epoch, r.created_at)
            .where(
                r.run_id == run_id,
                r.target == target,
                r.status == "ok",
                r.served_model.is_not_distinct_from(served),
                r.fingerprint.is_not_distinct_from(fingerprint),
            )
            .order_by(r.created_at, r.case_id, r.epoch)
            .limit(1)
        )
        with self._tx("find the first served record", write=False, run_id=run_id) as conn:
            row = conn.execute(stmt).first()
        if row is None:
            raise StoreError(
                f"run {run_id} target {target}: no record served by {served!r} / {fingerprint!r}",
                run_id=run_id,
            )
        return row.case_id, int(row.epoch), row.created_at

    def update_scores(
        self,
        run_id: str,
        scores: Iterable[tuple[RecordKey, dict[str, float | None], dict[str, str]]],
    ) -> None:
        """Replace the scores and score reasons of existing records (one transaction)."""
        r = records.c
        params = [
            {
                "k_run": run_id,
                "k_case": case_id,
                "k_target": target,
                "k_epoch": epoch,
                "scores": _codec.dumps(s),
                "score_reasons": _codec.dumps(reasons),
            }
            for (case_id, target, epoch), s, reasons in sorted(scores, key=lambda x: x[0])
        ]
        if not params:
            return
        stmt = (
            update(records)
            .where(
                and_(
                    r.run_id == bindparam("k_run"),
                    r.case_id == bindparam("k_case"),
                    r.target == bindparam("k_target"),
                    r.epoch == bindparam("k_epoch"),
                )
            )
            .values(scores=bindparam("scores"), score_reasons=bindparam("score_reasons"))
        )
        with self._tx("update scores", write=True, run_id=run_id) as conn:
            conn.execute(stmt, params)

    def spend(self, run_id: str) -> tuple[float, int]:
        """(USD, input+output tokens) spent so far by a run: its calls (replaced ones
        included) and its judge calls."""
        r = records.c
        with self._tx("read spend", write=False, run_id=run_id) as conn:
            usd, tokens = conn.execute(
                select(
                    func.coalesce(func.sum(r.cost_usd + r.superseded_cost_usd), 0.0),
                    func.coalesce(
                        func.sum(r.input_tokens + r.output_tokens + r.superseded_tokens), 0
                    ),
                ).where(r.run_id == run_id)
            ).one()
            judge = conn.execute(
                select(runs.c.judge_cost_usd, runs.c.judge_tokens).where(runs.c.run_id == run_id)
            ).first()
        if judge is not None:
            usd, tokens = float(usd) + float(judge[0]), int(tokens) + int(judge[1])
        return float(usd), int(tokens)

    def run_totals(self, run_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Per run: records, ok records, USD and tokens (judge calls included) and served
        models per target."""
        r = records.c
        out: dict[str, dict[str, Any]] = {
            rid: {"records": 0, "ok": 0, "usd": 0.0, "tokens": 0, "served": {}} for rid in run_ids
        }
        if not run_ids:
            return out
        stmt = (
            select(
                r.run_id,
                r.target,
                r.served_model,
                r.status,
                func.count(),
                func.coalesce(func.sum(r.cost_usd + r.superseded_cost_usd), 0.0),
                func.coalesce(func.sum(r.input_tokens + r.output_tokens + r.superseded_tokens), 0),
            )
            .where(r.run_id.in_(list(run_ids)))
            .group_by(r.run_id, r.target, r.served_model, r.status)
        )
        with self._tx("summarise runs", write=False) as conn:
            for rid, target, served, status, n, usd, tokens in conn.execute(stmt):
                t = out[rid]
                t["records"] += int(n)
                t["usd"] += float(usd)
                t["tokens"] += int(tokens)
                if status == "ok":
                    t["ok"] += int(n)
                if served is not None:
                    per = t["served"].setdefault(target, {})
                    per[served] = per.get(served, 0) + int(n)
            c = runs.c
            judged = select(c.run_id, c.judge_cost_usd, c.judge_tokens).where(
                c.run_id.in_(list(run_ids))
            )
            for rid, usd, tokens in conn.execute(judged):  # the run's judge calls
                out[rid]["usd"] += float(usd)
                out[rid]["tokens"] += int(tokens)
        return out

    def close(self) -> None:
        """Release connections."""
        self.engine.dispose()

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqlStore({self.url!r}, schema v{LATEST})"


def _conforms(store: SqlStore) -> Store:
    """Static check (mypy) that SqlStore implements the Store protocol."""
    return store
