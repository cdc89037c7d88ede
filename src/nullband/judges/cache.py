"""A persistent cache of judge replies, keyed by content.

The key is a hash of everything that determines a reply: the judge's endpoint and pinned
model, the messages, the sampling parameters and the sample number (so that ``repeats``
at a temperature stay distinct samples). A second eval that asks the same judge the same
question is not paid twice. Audits of self-consistency bypass the cache on purpose:
asking again is the measurement.

Stored in one SQLite table in a file of its own (default ``.nullband/judge-cache.db``),
so it works next to any store. Writes are committed before ``put`` returns (WAL with
``synchronous=NORMAL``: safe against a crash of the process; a power cut may lose the
last few entries, which then are paid for again).
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nullband._canonical import content_hash
from nullband.errors import StoreError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS judge_cache (
    key TEXT PRIMARY KEY,
    judge TEXT NOT NULL,
    model TEXT NOT NULL,
    text TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    created_at TEXT NOT NULL
)
"""

_USAGE_SCHEMA = """
CREATE TABLE IF NOT EXISTS judge_usage (
    run_id TEXT NOT NULL,
    judge TEXT NOT NULL,
    model TEXT NOT NULL,
    calls INTEGER NOT NULL DEFAULT 0,
    cache_hits INTEGER NOT NULL DEFAULT 0,
    errors INTEGER NOT NULL DEFAULT 0,
    unparsed INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, judge, model)
)
"""
USAGE_FIELDS = (
    "calls",
    "cache_hits",
    "errors",
    "unparsed",
    "input_tokens",
    "output_tokens",
    "cost_usd",
)


def cache_key(
    *,
    base_url: str,
    model: str,
    messages: list[dict[str, Any]],
    params: dict[str, Any],
    sample: int,
) -> str:
    """The content key of one judge request (32 hex digits)."""
    return content_hash(
        {
            "base_url": base_url.rstrip("/"),
            "model": model,
            "messages": messages,
            "params": params,
            "sample": sample,
        },
        length=32,
    )


class CachedReply:
    """A reply read back from the cache."""

    __slots__ = ("cost_usd", "input_tokens", "output_tokens", "text")

    def __init__(self, text: str, input_tokens: int, output_tokens: int, cost_usd: float):
        self.text = text
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.cost_usd = cost_usd


class JudgeCache:
    """SQLite-backed judge reply cache (thread-safe; one connection under a lock).

    Args:
        path: the cache file; its folder is created. ``":memory:"`` for a throwaway one.

    Raises:
        StoreError: the file cannot be opened or is not a cache.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(self.path, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            # a commit survives a crash of this process without an fsync per write; a
            # power cut can lose the last entries, which only means paying for them again
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(_SCHEMA)
            self._conn.execute(_USAGE_SCHEMA)
            self._conn.commit()
        except sqlite3.Error as exc:
            raise StoreError(
                f"cannot open the judge cache {self.path}: {exc}",
                hint="delete the file to start a fresh cache, or pass another cache path",
            ) from None
        self._lock = threading.Lock()

    def get(self, key: str) -> CachedReply | None:
        """The cached reply for ``key``, or None."""
        with self._lock:
            row = self._conn.execute(
                "SELECT text, input_tokens, output_tokens, cost_usd FROM judge_cache WHERE key = ?",
                (key,),
            ).fetchone()
        if row is None:
            return None
        return CachedReply(str(row[0]), int(row[1]), int(row[2]), float(row[3]))

    def put(
        self,
        key: str,
        *,
        judge: str,
        model: str,
        text: str,
        input_tokens: int,
        output_tokens: int,
        cost_usd: float,
    ) -> None:
        """Store a reply (durable when this returns)."""
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO judge_cache VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    judge,
                    model,
                    text,
                    input_tokens,
                    output_tokens,
                    cost_usd,
                    datetime.now(UTC).isoformat(),
                ),
            )
            self._conn.commit()

    def add_usage(self, run_id: str, judge: str, model: str, **deltas: float) -> None:
        """Add to the usage ledger of ``judge`` in run ``run_id`` (fields: USAGE_FIELDS)."""
        unknown = set(deltas) - set(USAGE_FIELDS)
        if unknown:
            raise ValueError(f"unknown usage fields: {sorted(unknown)}")
        cols = list(deltas)
        sets = ", ".join(f"{c} = {c} + excluded.{c}" for c in cols)
        with self._lock:
            self._conn.execute(
                f"INSERT INTO judge_usage (run_id, judge, model, {', '.join(cols)}) "
                f"VALUES (?, ?, ?, {', '.join('?' for _ in cols)}) "
                f"ON CONFLICT (run_id, judge, model) DO UPDATE SET {sets}",
                (run_id, judge, model, *deltas.values()),
            )
            self._conn.commit()

    def usage(self, run_id: str) -> list[dict[str, Any]]:
        """The ledger rows of a run: one dict per (judge, model) with USAGE_FIELDS."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT judge, model, {', '.join(USAGE_FIELDS)} FROM judge_usage "
                "WHERE run_id = ? ORDER BY judge, model",
                (run_id,),
            ).fetchall()
        return [dict(zip(("judge", "model", *USAGE_FIELDS), r, strict=True)) for r in rows]

    def __len__(self) -> int:
        with self._lock:
            row = self._conn.execute("SELECT COUNT(*) FROM judge_cache").fetchone()
        return int(row[0])

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()
