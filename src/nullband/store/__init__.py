"""Where runs and records live: a SQLite file by default, PostgreSQL by URL.

Example:
    >>> from nullband.store import open_store
    >>> store = open_store(".nullband/runs.db")  # doctest: +SKIP
    >>> store.completed_keys("01J...")  # doctest: +SKIP
"""

from __future__ import annotations

from nullband.store._open import DEFAULT_STORE, SqliteSync, default_store_url, open_store
from nullband.store.base import RecordKey, RunInfo, RunStatus, Store
from nullband.store.migrations import LATEST
from nullband.store.sql import SqlStore

__all__ = [
    "DEFAULT_STORE",
    "LATEST",
    "RecordKey",
    "RunInfo",
    "RunStatus",
    "SqlStore",
    "SqliteSync",
    "Store",
    "default_store_url",
    "open_store",
]
