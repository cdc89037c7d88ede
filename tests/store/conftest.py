"""Fixtures for the store tests: a store per backend, private PostgreSQL schemas."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nullband._ids import new_run_id
from nullband.store import SqlStore, open_store


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqlStore]:
    """A fresh SQLite store in a temporary folder (nested, to check folders are made)."""
    store = open_store(tmp_path / "nested" / "runs.db")
    yield store
    store.close()


def _pg_admin(url: str, sql: str) -> None:
    from sqlalchemy import create_engine, text

    eng = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with eng.begin() as conn:
        conn.execute(text(sql))
    eng.dispose()


@pytest.fixture
def fresh_pg(pg_url: str) -> Iterator[str]:
    """A URL into a fresh, private PostgreSQL schema (dropped afterwards).

    Other areas' tests share the database; a schema per test (via ``search_path``)
    isolates ours without touching their tables.
    """
    schema = "nbtest_" + new_run_id().lower()
    _pg_admin(pg_url, f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in pg_url else "?"
    yield f"{pg_url}{sep}options=-csearch_path%3D{schema}"
    _pg_admin(pg_url, f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    """The same tests on both backends (PostgreSQL skips without NULLBAND_TEST_PG_URL)."""
    if request.param == "sqlite":
        s = open_store(tmp_path / "runs.db")
    else:
        url: str = request.getfixturevalue("fresh_pg")
        s = open_store(url)
    yield s
    s.close()
