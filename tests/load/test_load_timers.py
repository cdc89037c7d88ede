"""The pieces the 2 ms accuracy rests on: microsecond timers, arrival stamps on both sides,
and the test server's own send-time log."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import urllib.error
import urllib.request

import aiohttp
import pytest
from loadtest_helpers import PER_TOKEN_MS, TTFT_MS

from nullband.load.client import StampingHandler, stamping_connector
from nullband.testserver import SubprocessServer, TestServer
from nullband.testserver.timing import TIMINGS_ENV, precise_event_loop, timers_are_precise


async def _overshoots_ms(n: int, sleep_s: float) -> list[float]:
    out = []
    for _ in range(n):
        t = time.monotonic()
        await asyncio.sleep(sleep_s)
        out.append((time.monotonic() - t - sleep_s) * 1e3)
    return out


def test_precise_loop_does_not_round_sleeps_up_to_whole_milliseconds() -> None:
    # asyncio's epoll loop waits ceil(1.3 ms) = 2 ms: a median overshoot near 0.7 ms. The
    # precise loop wakes within the timer's wake-up latency (about 0.1 ms on the project's
    # VM); the median is robust to the odd descheduling on a shared machine.
    with asyncio.Runner(loop_factory=precise_event_loop) as runner:
        assert timers_are_precise(runner.get_loop())
        over = runner.run(_overshoots_ms(150, 0.0013))
    assert min(over) >= -0.01  # never early
    assert statistics.median(over) < 0.4, sorted(over)[::15]
    with asyncio.Runner() as runner:
        assert not timers_are_precise(runner.get_loop())


def test_client_connections_stamp_arrivals_in_data_received() -> None:
    async def main() -> tuple[type, int, int]:
        async with (
            TestServer({"latency": {"ttft_s": 0.02}}) as srv,
            aiohttp.ClientSession(connector=stamping_connector(limit=0)) as session,
        ):
            body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
            async with session.post(f"{srv.base_url}/chat/completions", json=body) as resp:
                assert resp.connection is not None
                proto = resp.connection.protocol
                await resp.content.readany()  # the first token, 20 ms after the headers
                seen = time.monotonic_ns()
                assert isinstance(proto, StampingHandler)
                await resp.read()
                return type(proto), proto.rx_ns, seen

    kind, rx, seen = asyncio.run(main())
    # the aiohttp version in use still lets the connector build our protocol; the stamp
    # is the first token's arrival, taken before the reading task got to see it
    assert kind is StampingHandler
    assert 0 < rx <= seen


def test_server_logs_arrival_and_send_times_when_asked() -> None:
    args = ["--ttft-ms", str(TTFT_MS), "--per-token-ms", str(PER_TOKEN_MS)]
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "a b c"}],
                       "stream": True, "max_tokens": 4, "min_tokens": 4}).encode()  # fmt: skip
    with SubprocessServer(args, env={TIMINGS_ENV: "1"}) as srv:
        for _ in range(3):
            req = urllib.request.Request(
                f"{srv.base_url}/chat/completions", data=body,
                headers={"Content-Type": "application/json"},
            )  # fmt: skip
            with urllib.request.urlopen(req, timeout=10) as r:
                r.read()
        with urllib.request.urlopen(f"{srv.url}/_nullband/timings", timeout=10) as r:
            log = json.loads(r.read())
    assert log["clock"] == "CLOCK_MONOTONIC"
    assert len(log["answers"]) == 3
    for a in log["answers"]:
        w = a["writes_ns"]
        assert len(w) == 4
        # the server's own view: chunk k leaves TTFT + k x per-token after the bytes
        # arrived (absolute deadlines); never early, late only by its wake-up (a generous
        # bound: the machine is shared)
        late = [(t - a["arrival_ns"]) / 1e6 - TTFT_MS - k * PER_TOKEN_MS for k, t in enumerate(w)]
        assert all(-0.01 <= x < 5.0 for x in late), late
        assert a["arrival_ns"] <= log["now_ns"]


def test_timing_log_is_off_by_default() -> None:
    with SubprocessServer([]) as srv, pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{srv.url}/_nullband/timings", timeout=10)
    assert err.value.code == 404
