"""Precise timers for event loops, and the test server's optional log of its send times.

asyncio's default loop on Linux waits with ``epoll_wait``, whose timeout is in whole
milliseconds: Python rounds every timer's wait *up* to the next millisecond, so
``asyncio.sleep(d)`` wakes anywhere in [d, d + 1 ms]. That is fine for most servers but
not for one whose whole point is to send tokens at exact times, nor for a load client
that must send requests on time. :func:`precise_event_loop` returns a selector loop that
waits on the epoll descriptor with ``select(2)`` instead, whose timeout has microsecond
resolution; when there is nothing to wait for (timeout 0) or no timer (None), it is the
plain epoll loop. One descriptor is passed to ``select``, so its 1024-descriptor limit
does not apply to the connections; should the epoll descriptor itself be numbered past
that limit, the wait falls back to epoll's rounding.

With ``NULLBAND_TESTSERVER_TIMINGS=1`` in its environment the test server keeps, per
streamed answer, when the request arrived and when each chunk was handed to the socket
(``time.monotonic_ns``: CLOCK_MONOTONIC, system-wide on Linux, so a client on the same
host can compare it with its own stamps); ``GET /_nullband/timings`` returns them. It is
a diagnostic: it splits a client's measurement error into the server's lateness and the
client's own.
"""

from __future__ import annotations

import asyncio
import gc
import os
import select
import selectors
import sys
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from nullband.testserver.faults import SLEEP_LEAD_S

T = TypeVar("T")

TIMINGS_ENV = "NULLBAND_TESTSERVER_TIMINGS"
"""Environment variable that turns the server's timing log on (any non-empty value)."""

TIMINGS_KEPT = 100_000
"""The log keeps the most recent answers only (a bounded deque)."""

if sys.platform == "linux":

    class PreciseSelector(selectors.EpollSelector):
        """An epoll selector whose waits are not rounded up to whole milliseconds."""

        def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
            if timeout is not None and timeout > 0:
                try:
                    # the epoll descriptor is readable when any registered one is ready
                    select.select([self.fileno()], [], [], timeout)
                except ValueError:  # descriptor number past select's limit: epoll's wait
                    return super().select(timeout)
                except InterruptedError:
                    return []
                timeout = 0
            return super().select(timeout)

else:  # pragma: no cover - kqueue and select already take fine-grained timeouts

    class PreciseSelector(selectors.DefaultSelector):
        """The platform's default selector (its waits are not rounded to milliseconds)."""


def precise_event_loop() -> asyncio.AbstractEventLoop:
    """A new asyncio event loop whose timers fire within microseconds, not a millisecond.

    Example:
        >>> with asyncio.Runner(loop_factory=precise_event_loop) as runner:  # doctest: +SKIP
        ...     runner.run(main())
    """
    return asyncio.SelectorEventLoop(PreciseSelector())


def run_precisely(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` on a :func:`precise_event_loop`, for a process that does little else.

    The objects that exist at the start (modules, configuration) are frozen out of the
    garbage collector's view first: a later collection then walks only what the program
    allocated since, which keeps its pauses, and so the lateness of timers, short.
    """
    gc.collect()
    gc.freeze()
    with asyncio.Runner(loop_factory=precise_event_loop) as runner:
        return runner.run(main)


def timers_are_precise(loop: asyncio.AbstractEventLoop) -> bool:
    """True when ``loop`` is one of :func:`precise_event_loop`'s."""
    sel = getattr(loop, "_selector", None)
    return isinstance(sel, PreciseSelector)


async def sleep_until(deadline: float) -> None:
    """Sleep until the running loop's clock (``loop.time()``) reaches ``deadline``.

    On a precise loop the sleep aims at the deadline itself (it wakes a few tens of
    microseconds after it); on a loop whose waits are rounded up to the millisecond it
    aims :data:`SLEEP_LEAD_S` early, which centres the error on zero.
    """
    loop = asyncio.get_running_loop()
    lead = 0.0 if timers_are_precise(loop) else SLEEP_LEAD_S
    delay = deadline - loop.time()
    if delay > lead:
        await asyncio.sleep(delay - lead)


class ArrivalStamps:
    """When bytes last arrived on each of a server's connections (CLOCK_MONOTONIC ns).

    :meth:`wrap` turns a protocol factory (aiohttp's server) into one whose protocols
    stamp the time in ``data_received``, before any HTTP parsing, so a handler can date
    its request by when it reached the process rather than when the handler got to run
    (about 0.2 ms later with aiohttp, more when the loop is busy). HTTP/1.1 requests on a
    connection follow one another, so the latest stamp seen by a handler is that of its
    own request's bytes (the last of them when the body came in a later segment).
    """

    def __init__(self) -> None:
        self.by_transport: dict[asyncio.BaseTransport, int] = {}

    def wrap(self, factory: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        """A protocol factory whose protocols forward to ``factory``'s and stamp arrivals."""

        def make() -> asyncio.Protocol:
            return _StampingProtocol(factory(), self.by_transport)

        return make

    def arrival(self, transport: asyncio.BaseTransport | None) -> int | None:
        """The latest arrival on ``transport``, or None (not a stamped connection)."""
        return self.by_transport.get(transport) if transport is not None else None


class _StampingProtocol(asyncio.Protocol):
    __slots__ = ("_inner", "_stamps", "_transport")

    def __init__(self, inner: asyncio.Protocol, stamps: dict[asyncio.BaseTransport, int]) -> None:
        self._inner = inner
        self._stamps = stamps
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._transport is not None:
            self._stamps[self._transport] = time.monotonic_ns()
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is not None:
            self._stamps.pop(self._transport, None)
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class TimingLog:
    """Arrival and per-chunk send times of streamed answers (CLOCK_MONOTONIC ns)."""

    def __init__(self) -> None:
        self.entries: deque[tuple[int, list[int]]] = deque(maxlen=TIMINGS_KEPT)

    @staticmethod
    def from_env() -> TimingLog | None:
        """A log when ``NULLBAND_TESTSERVER_TIMINGS`` is set, else None (the default)."""
        return TimingLog() if os.environ.get(TIMINGS_ENV) else None

    def add(self, arrival_ns: int, writes_ns: list[int]) -> None:
        """Record one answer."""
        self.entries.append((arrival_ns, writes_ns))

    def snapshot(self) -> dict[str, Any]:
        """The JSON body of ``GET /_nullband/timings``."""
        return {
            "clock": "CLOCK_MONOTONIC",
            "now_ns": time.monotonic_ns(),
            "answers": [{"arrival_ns": a, "writes_ns": w} for a, w in self.entries],
        }
