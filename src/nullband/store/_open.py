"""Opening a store from a path or URL: engine set-up, SQLite pragmas, migrations."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import create_engine, event, make_url
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from nullband.errors import StoreError
from nullband.store.migrations import migrate
from nullband.store.sql import SqlStore, _describe

DEFAULT_STORE = ".nullband/runs.db"
"""The store used when neither ``--store`` nor ``NULLBAND_STORE`` says otherwise."""


SqliteSync = Literal["FULL", "NORMAL"]


def default_store_url() -> str:
    """``$NULLBAND_STORE`` when set, else ``.nullband/runs.db``."""
    return os.environ.get("NULLBAND_STORE") or DEFAULT_STORE


def _sqlite_engine(path: Path, synchronous: SqliteSync) -> Engine:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create the folder {path.parent} for the store {path}: {exc}",
            hint="pass --store with a writable path, or set NULLBAND_STORE",
        ) from None
    engine = create_engine(
        f"sqlite:///{path}", connect_args={"timeout": 60.0, "check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event below issue BEGIN itself (pysqlite's implicit
        # transactions would start writers as readers and fail on lock upgrade).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL in WAL mode fsyncs the WAL at each commit: a committed write survives
        # kill -9 and power loss. NORMAL would survive kill -9 only.
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the write lock up front, so concurrent writers queue on the busy
        # timeout instead of failing with "database is locked" mid-transaction.
        immediate = conn.get_execution_options().get("nb_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def open_store(url_or_path: str | Path, *, sqlite_synchronous: SqliteSync = "FULL") -> SqlStore:
    """Open (creating and migrating as needed) the store at a path or URL.

    Args:
        url_or_path: a SQLite file path (parent folders are created), a ``sqlite:///``
            URL, or a ``postgresql://`` URL (driven by psycopg 3).
        sqlite_synchronous: SQLite's ``synchronous`` pragma; FULL (default) is durable
            against power loss, NORMAL only against a killed process.

    Returns:
        A :class:`SqlStore` (implements :class:`~nullband.store.base.Store`).

    Raises:
        StoreError: unknown URL scheme, unreachable database, or a failed migration.

    Example:
        >>> store = open_store("/tmp/nb-example/runs.db")  # doctest: +SKIP
    """
    raw = str(url_or_path)
    if "://" not in raw:
        return _finish(_sqlite_engine(Path(raw).expanduser(), sqlite_synchronous), raw)
    try:
        url = make_url(raw)
    except ArgumentError as exc:
        raise StoreError(f"cannot parse the store URL: {exc}") from None
    display = url.render_as_string(hide_password=True)
    backend = url.get_backend_name()
    if backend in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
        try:
            engine = create_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=8)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot open the store {display}: {exc}") from None
        return _finish(engine, display)
    if backend == "sqlite" and url.database:
        return _finish(_sqlite_engine(Path(url.database).expanduser(), sqlite_synchronous), display)
    raise StoreError(
        f"unsupported store URL {display!r}",
        hint="use a file path (SQLite) or a postgresql://user@host:port/db URL",
    )


def _finish(engine: Engine, display: str) -> SqlStore:
    try:
        migrate(engine)
    except StoreError:
        engine.dispose()
        raise
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(
            f"cannot open the store {display}: {_describe(exc)}",
            hint="check that the database server is running and the URL is right",
        ) from None
    return SqlStore(engine, display_url=display)
