"""The open-loop engine: a precise scheduler, a loop-lag probe, and one shard's run.

Each request has an absolute planned send time ``t0 + offset`` on ``CLOCK_MONOTONIC``
(system-wide on Linux, so shards in different processes share ``t0``). The loop's
timers have microsecond resolution (:func:`~nullband.testserver.timing.precise_event_loop`;
asyncio's default rounds every wait up to the next millisecond). The dispatcher sleeps
until shortly before that instant (:data:`PRECISE_SPIN_NS`, enough to absorb a timer
wake-up's latency), then yields to the event loop in a tight loop (``sleep(0)``) until
the instant is reached, so I/O keeps flowing while it waits. Nothing ever waits on a
completion before sending: this is an open loop, and a safety cap (``max_inflight``)
that binds is recorded so the run can be judged INVALID.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from nullband.load.client import RawRequest, send_tracer, stamping_connector, stream_request
from nullband.testserver.timing import precise_event_loop, timers_are_precise

_mono = time.monotonic_ns

SPIN_NS = 1_500_000
"""How long before a deadline the dispatcher stops sleeping and starts yielding, on a loop
whose timers are rounded to the millisecond."""

PRECISE_SPIN_NS = 200_000
"""The same on a loop with microsecond timers: a timer wake-up takes about 0.1 ms on the
project's VM (0.8 ms at p99 under load), a send after it a few tens of microseconds."""

LOOP_PROBE_S = 0.01
"""Period of the event-loop lag probe."""


async def sleep_until(deadline_ns: int, spin_ns: int = SPIN_NS) -> int:
    """Wait until ``deadline_ns`` (CLOCK_MONOTONIC), yielding to the loop; returns the time."""
    while True:
        now = _mono()
        rem = deadline_ns - now
        if rem <= 0:
            return now
        if rem > spin_ns:
            await asyncio.sleep((rem - spin_ns) / 1e9)
        else:
            await asyncio.sleep(0)


async def loop_lag_probe(samples: list[float], stop: asyncio.Event) -> None:
    """Append the overshoot (ms) of a periodic ``sleep`` until ``stop`` is set."""
    period_ns = int(LOOP_PROBE_S * 1e9)
    while not stop.is_set():
        t = _mono()
        await asyncio.sleep(LOOP_PROBE_S)
        samples.append((_mono() - t - period_ns) / 1e6)


@dataclass
class ShardResult:
    """What one client process measured (picklable: crosses process boundaries)."""

    proc: int
    raws: list[dict[str, Any]]
    loop_lag_ms: list[float]
    cpu_s: float
    wall_s: float
    loop: str
    peak_inflight: int
    cap_hit: bool
    t0_ns: int
    t0_wall_ns: int
    end_ns: int = 0
    errors: list[str] = field(default_factory=list)
    """Problems the shard met that do not stop it (e.g. niceness not granted)."""


def _raw_to_dict(r: RawRequest, t0: int) -> dict[str, Any]:
    def rel(v: int) -> int | None:
        return v - t0 if v else None

    send = r.send_ns or r.call_ns  # no trace signal (failed before writing): the call
    return {
        "idx": r.idx,
        "planned_ns": r.planned_ns - t0,
        "dispatch_ns": rel(r.dispatch_ns),
        "call_ns": rel(r.call_ns),
        "send_ns": rel(send),
        "headers_ns": rel(r.headers_ns),
        "first_event_ns": rel(r.first_event_ns),
        "first_token_ns": rel(r.first_token_ns),
        "last_token_ns": rel(r.last_token_ns),
        "end_ns": rel(r.end_ns),
        "event_us": [(t - send) // 1000 for t in r.ev_ns],
        "event_tokens": r.ev_tok,
        "token_source": r.token_source,
        "events_per_read_max": r.events_per_read_max,
        "prompt_tokens": r.prompt_tokens,
        "completion_tokens": r.completion_tokens,
        "cached_tokens": r.cached_tokens,
        "finish_reason": r.finish_reason,
        "http_status": r.http_status,
        "status": r.status,
        "error": r.error,
        "inflight_at_send": r.inflight_at_send,
    }


@dataclass
class ShardPlan:
    """One shard's work: (schedule idx, offset ns, body) triples and how to send them."""

    proc: int
    items: list[tuple[int, int, bytes]]
    url: str
    headers: dict[str, str]
    timeout_s: float
    max_inflight: int | None = None
    nice: int | None = None


async def run_shard(plan: ShardPlan, t0_ns: int | None = None, lead_s: float = 0.2) -> ShardResult:
    """Send one shard's requests on the absolute schedule and wait for all of them.

    ``t0_ns`` is the CLOCK_MONOTONIC instant of offset 0; by default ``lead_s`` from now,
    after the session is created.
    """
    loop = asyncio.get_running_loop()
    precise = timers_are_precise(loop)
    loop_kind = type(loop).__module__.split(".")[0] + ("-precise" if precise else "")
    connector = stamping_connector(limit=0, keepalive_timeout=60, force_close=False)
    timeout = aiohttp.ClientTimeout(total=plan.timeout_s)
    raws = [RawRequest(i, 0, body) for i, _, body in plan.items]
    lag: list[float] = []
    stop = asyncio.Event()
    inflight = 0
    peak = 0
    cap_hit = False
    sem = asyncio.Semaphore(plan.max_inflight) if plan.max_inflight else None

    async def one(raw: RawRequest) -> None:
        nonlocal inflight, peak
        inflight += 1
        peak = max(peak, inflight)
        raw.inflight_at_send = inflight
        try:
            await stream_request(session, plan.url, plan.headers, raw, timeout)
        finally:
            inflight -= 1
            if sem is not None:
                sem.release()

    async with aiohttp.ClientSession(
        connector=connector,
        read_bufsize=2**20,
        auto_decompress=False,
        trace_configs=[send_tracer()],
    ) as session:
        # Long-lived objects go to the permanent generation, so a collection during the
        # run only walks what the run itself allocated (shorter pauses of the loop). Done
        # before t0 is fixed: a full collection can take tens of milliseconds.
        gc.collect()
        gc.freeze()
        t0 = t0_ns if t0_ns is not None else _mono() + int(lead_s * 1e9)
        t0_wall = time.time_ns() + (t0 - _mono())
        for raw, (_, off, _) in zip(raws, plan.items, strict=True):
            raw.planned_ns = t0 + off
        cpu0 = time.process_time()
        wall0 = _mono()
        probe = asyncio.create_task(loop_lag_probe(lag, stop))
        spin = PRECISE_SPIN_NS if precise else SPIN_NS
        try:
            async with asyncio.TaskGroup() as tg:
                for raw in raws:
                    await sleep_until(raw.planned_ns, spin)
                    if sem is not None:
                        if sem.locked():
                            cap_hit = True
                        await sem.acquire()
                    raw.dispatch_ns = _mono()
                    tg.create_task(one(raw))
        finally:
            stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await probe
            gc.unfreeze()
        end = _mono()
        cpu = time.process_time() - cpu0
    return ShardResult(
        proc=plan.proc,
        raws=[_raw_to_dict(r, t0) for r in raws],
        loop_lag_ms=lag,
        cpu_s=cpu,
        wall_s=(end - wall0) / 1e9,
        loop=loop_kind,
        peak_inflight=peak,
        cap_hit=cap_hit,
        t0_ns=t0,
        t0_wall_ns=t0_wall,
        end_ns=end - t0,
    )


def set_nice(value: int | None) -> tuple[int | None, str | None]:
    """Set this process's niceness; returns (the previous value, a problem in words)."""
    if value is None:
        return None, None
    prev = os.getpriority(os.PRIO_PROCESS, 0)
    try:
        os.setpriority(os.PRIO_PROCESS, 0, value)
    except OSError as exc:
        return None, f"could not set niceness {value} (now {prev}): {exc.strerror}"
    return prev, None


def new_event_loop_runner() -> asyncio.Runner:
    """An asyncio runner on a loop with microsecond timers (not uvloop: libuv's timers
    count whole milliseconds)."""
    return asyncio.Runner(loop_factory=precise_event_loop)
