"""A store in its own process, so a run's writes do not compete for the caller's GIL.

A large run spends a good share of its CPU writing records (building row tuples,
binding them, committing) on the store thread, and that thread contends with the event
loop for the interpreter lock. :class:`ProcessStore` moves the store into a child
process (``python -m nullband.store._child``): the caller serialises each record to
JSON once and sends a batch; the child validates, writes and commits it, and replies
only after the commit, so "durable before it counts as done" holds as with the thread.

It serves the calls a run makes (status, completed keys, spend, totals, record writes),
plus :meth:`ProcessStore.run_function`, which runs a nullband function with the child's
store (the runner creates a run and its case rows there, from the config, so the case
rows are never built in the caller). Calls are serialised by a lock; each blocks until
the child replies. Errors raised in the child come back as the same nullband error
class with the same message.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import IO, Any

from nullband import errors
from nullband.errors import NullbandError, StoreError
from nullband.records import Record
from nullband.store import _frames, _rows
from nullband.store._open import SqliteSync
from nullband.store.base import RecordKey, RunInfo, RunStatus

_CLOSE_TIMEOUT_S = 30.0


class ProcessStore:
    """A :class:`~nullband.store.sql.SqlStore` opened and served by a child process.

    Args:
        url_or_path: what :func:`~nullband.store.open_store` takes (SQLite path or
            ``postgresql://`` URL); sent to the child over its pipe, never on a
            command line.
        sqlite_synchronous: SQLite's ``synchronous`` pragma (FULL by default).

    Raises:
        StoreError: the child could not start or could not open the store.
    """

    def __init__(self, url_or_path: str, *, sqlite_synchronous: SqliteSync = "FULL") -> None:
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "nullband.store._child"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                start_new_session=True,  # Ctrl-C goes to the parent, which closes us
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        except OSError as exc:
            raise StoreError(f"cannot start the store process: {exc}") from None
        assert self._proc.stdin is not None
        assert self._proc.stdout is not None
        self._to: IO[bytes] = self._proc.stdin
        self._from: IO[bytes] = self._proc.stdout
        self._lock = threading.Lock()
        self._closed = False
        self.url: str = "?"
        self.dialect = "sqlite"
        try:
            self.url, self.dialect = self._request(("open", url_or_path, sqlite_synchronous))
        except BaseException:
            self._kill()
            raise

    # -- transport --------------------------------------------------------------------

    def _request(self, msg: tuple[Any, ...]) -> Any:
        with self._lock:
            if self._closed:
                raise StoreError("the store process was already closed")
            try:
                _frames.send(self._to, msg)
                reply = _frames.recv(self._from)
            except (EOFError, BrokenPipeError, OSError):
                try:  # its pipe closed: it is exiting, if not gone already
                    code: int | None = self._proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    code = None
                raise StoreError(
                    f"the store process exited (status {code}) while serving {msg[0]!r}",
                    hint="its error, if any, is printed above; the records it acknowledged "
                    "are stored, resume the run with --run-id",
                ) from None
        if reply[0] == "ok":
            return reply[1]
        raise _rebuild(reply[1], reply[2])

    def _kill(self) -> None:
        self._closed = True
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        for fh in (self._to, self._from):
            with contextlib.suppress(OSError):  # unflushed bytes to a dead child
                fh.close()

    # -- what a run calls -------------------------------------------------------------

    def write_records(
        self, recs: Sequence[Record], *, judge_spend: tuple[float, int] | None = None
    ) -> None:
        """Write records in one transaction; durable when this returns.

        Each record is serialised here once (its body JSON and score columns); the child
        builds the rows from that, binds and commits them.
        """
        if recs:
            payloads = [_rows.record_payload(r) for r in recs]
            self._request(("payloads", payloads, recs[0].run_id, judge_spend))

    def run_function(self, path: str, *args: Any) -> Any:
        """``module:function(store, *args)`` run in the child with its store (nullband only)."""
        return self._request(("function", path, args))

    def get_run(self, run_id: str, *, with_cases: bool = True) -> RunInfo | None:
        """The run (see :meth:`SqlStore.get_run`)."""
        run: RunInfo | None = self._call("get_run", run_id, with_cases=with_cases)
        return run

    def set_status(self, run_id: str, status: RunStatus, note: str | None = None) -> None:
        """Record a status change."""
        self._call("set_status", run_id, status, note)

    def completed_keys(self, run_id: str) -> set[RecordKey]:
        """Keys of records with status 'ok'."""
        keys: set[RecordKey] = self._call("completed_keys", run_id)
        return keys

    def iter_records(self, run_id: str, target: str | None = None) -> Iterator[Record]:
        """Records of a run (read whole in the child, then handed over)."""
        recs: list[Record] = self._call("iter_records", run_id, target)
        return iter(recs)

    def spend(self, run_id: str) -> tuple[float, int]:
        """(USD, tokens) spent so far by a run: its records and its judge calls."""
        usd, tokens = self._call("spend", run_id)
        return float(usd), int(tokens)

    def run_totals(self, run_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Record counts and spend per run (see :meth:`SqlStore.run_totals`)."""
        totals: dict[str, dict[str, Any]] = self._call("run_totals", list(run_ids))
        return totals

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._request(("call", method, args, kwargs))

    def close(self) -> None:
        """Close the store and wait for the child to exit (idempotent)."""
        if self._closed:
            return
        try:
            self._request(("close",))
            self._proc.wait(timeout=_CLOSE_TIMEOUT_S)
        except (StoreError, subprocess.TimeoutExpired):
            pass
        finally:
            self._kill()

    def __repr__(self) -> str:
        return f"ProcessStore({self.url!r}, pid {self._proc.pid})"


def _rebuild(name: str, message: str) -> Exception:
    """The child's error as the same nullband class (message kept whole)."""
    cls = getattr(errors, name, None)
    if isinstance(cls, type) and issubclass(cls, NullbandError):
        exc = cls.__new__(cls)
        NullbandError.__init__(exc, message)
        for attr in ("path", "line", "field", "run_id", "target", "case_id"):
            if not hasattr(exc, attr):
                setattr(exc, attr, None)
        return exc
    return StoreError(f"the store process failed: {name}: {message}")
