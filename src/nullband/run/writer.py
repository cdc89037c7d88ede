"""The single writer: batches records into store transactions (group commit).

Workers hand records to :meth:`RecordWriter.put` (a bounded queue, so a slow store slows
the callers instead of growing memory). One task takes everything queued, writes it in
one ``store.write_records`` transaction on the store's own thread, and only after that
commit reports the batch through ``on_commit``. While one batch commits the next one
fills up, so batches grow with load and the per-record commit cost falls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from nullband.records import Record
from nullband.store.base import Store

_SENTINEL = None


class RecordWriter:
    """Group-committing writer of records.

    Args:
        store: where records go (its synchronous calls run on ``executor``).
        executor: a one-thread executor, so every store call runs on the same thread.
        on_commit: called on the event loop with each batch once it is durable.
        max_batch: largest batch per transaction.
        queue_size: records waiting at most; ``put`` waits beyond it.
    """

    def __init__(
        self,
        store: Store,
        executor: ThreadPoolExecutor,
        on_commit: Callable[[Sequence[Record]], None],
        *,
        max_batch: int = 2048,
        queue_size: int = 8192,
    ) -> None:
        self.store = store
        self.executor = executor
        self.on_commit = on_commit
        self.max_batch = max_batch
        self._queue: asyncio.Queue[Record | None] = asyncio.Queue(maxsize=queue_size)
        self.batches = 0
        self.written = 0
        self.finished = False

    async def put(self, record: Record) -> None:
        """Queue a record for the next batch (waits while the queue is full)."""
        await self._queue.put(record)

    async def close(self) -> None:
        """Ask the writer to finish once everything queued so far is written.

        Returns at once when the writer already stopped (e.g. the store failed), so a
        full queue can never block the shutdown.
        """
        if not self.finished:
            await self._queue.put(_SENTINEL)

    async def run(self) -> None:
        """Write batches until :meth:`close`; a store error propagates (the run fails)."""
        try:
            await self._run()
        finally:
            self.finished = True

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        queue = self._queue
        done = False
        while not done:
            first = await queue.get()
            if first is _SENTINEL:
                break
            batch = [first]
            while len(batch) < self.max_batch and not queue.empty():
                item = queue.get_nowait()
                if item is _SENTINEL:
                    done = True
                    break
                batch.append(item)
            await loop.run_in_executor(self.executor, self.store.write_records, batch)
            self.batches += 1
            self.written += len(batch)
            self.on_commit(batch)
