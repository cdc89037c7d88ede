"""The single writer: batches records into store transactions (group commit).

Workers hand records to :meth:`RecordWriter.put` (a bounded buffer, so a slow store slows
the callers instead of growing memory). One task takes everything queued, writes it in
one ``store.write_records`` transaction on the store's own thread, and only after that
commit reports the batch through ``on_commit``. While one batch commits the next one
fills up, so batches grow with load and the per-record commit cost falls.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from nullband.records import Record
from nullband.store.base import Store
from nullband.store.process import ProcessStore


class RecordWriter:
    """Group-committing writer of records.

    Args:
        store: where records go (its synchronous calls run on ``executor``).
        executor: a one-thread executor, so every store call runs on the same thread.
        on_commit: called on the event loop with each batch once it is durable.
        max_batch: largest batch per transaction.
        queue_size: records waiting at most; ``put`` waits beyond it.
        ready: awaited before the first write (the run's creation, when calls start
            while it is still being stored); its failure stops the writer.
        extra_spend: called before each batch; returns the (USD, tokens) the run's judge
            calls spent since the previous call, stored in the batch's transaction.

    Records wait in a plain list, not an ``asyncio.Queue``: ``put`` is an append and, when
    the writer sleeps, one event set (a queue costs a few microseconds per record in
    bookkeeping, measured on the runner's hot path).
    """

    def __init__(
        self,
        store: Store | ProcessStore,
        executor: ThreadPoolExecutor,
        on_commit: Callable[[Sequence[Record]], None],
        *,
        max_batch: int = 2048,
        queue_size: int = 8192,
        ready: Awaitable[Any] | None = None,
        extra_spend: Callable[[], tuple[float, int]] | None = None,
    ) -> None:
        self.store = store
        self.executor = executor
        self.on_commit = on_commit
        self.max_batch = max_batch
        self.queue_size = queue_size
        self._ready = ready
        self._extra_spend = extra_spend
        self._items: list[Record] = []
        self._wake = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()
        self._closing = False
        self.batches = 0
        self.written = 0
        self.finished = False

    async def put(self, record: Record) -> None:
        """Queue a record for the next batch (waits while ``queue_size`` records wait)."""
        while len(self._items) >= self.queue_size and not self.finished:
            self._space.clear()
            await self._space.wait()
        self._items.append(record)
        if not self._wake.is_set():
            self._wake.set()

    async def close(self) -> None:
        """Ask the writer to finish once everything queued so far is written.

        Returns at once (also when the writer already stopped, e.g. the store failed).
        """
        self._closing = True
        self._wake.set()

    async def run(self) -> None:
        """Write batches until :meth:`close`; a store error propagates (the run fails)."""
        try:
            await self._run()
        finally:
            self.finished = True
            self._space.set()  # never leave a producer waiting on a stopped writer

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        items = self._items
        if self._ready is not None:
            await self._ready
        while True:
            await self._wake.wait()
            self._wake.clear()
            while items:
                batch = items[: self.max_batch]
                del items[: self.max_batch]
                self._space.set()
                spend = self._extra_spend() if self._extra_spend is not None else None
                await loop.run_in_executor(
                    self.executor,
                    functools.partial(self.store.write_records, batch, judge_spend=spend),
                )
                self.batches += 1
                self.written += len(batch)
                self.on_commit(batch)
            if self._closing:
                return
