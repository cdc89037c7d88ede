"""Benchmark of the test server: requests/s it sustains against a raw aiohttp client loop.

Run: .venv/bin/python bench/testserver.py [--n 10000] [--concurrency 128] [--stream]
     [--ttft-ms 50 --per-token-ms 10 --timing-n 200]

The server runs in a child process (as the runner benchmark uses it); the client is a
minimal aiohttp loop in this process. Prints requests/s and the CPU each side spent per
request (server CPU read from /proc). With --ttft-ms/--per-token-ms it also measures how
far the observed TTFT and inter-token gaps are from the configured ones.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from nullband.testserver import SubprocessServer

BODY = {
    "model": "bench-model-2026-01-01",
    "messages": [{"role": "user", "content": "What is 2 + 2? Answer with one number."}],
    "max_tokens": 16,
}


def _cpu_s(pid: int) -> float:
    """utime + stime of a process in seconds (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _load(base_url: str, n: int, concurrency: int, stream: bool) -> float:
    body = dict(BODY, stream=stream)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=conn) as session:

        async def worker() -> None:
            while not queue.empty():
                i = queue.get_nowait()
                headers = {"X-Nullband-Case": f"c{i}/bench/0"}
                async with session.post(
                    f"{base_url}/chat/completions", json=body, headers=headers
                ) as resp:
                    await resp.read()
                    if resp.status != 200:
                        raise RuntimeError(f"status {resp.status}")

        t0 = time.perf_counter()
        async with asyncio.TaskGroup() as tg:
            for _ in range(concurrency):
                tg.create_task(worker())
        return time.perf_counter() - t0


async def _timing(base_url: str, n: int, ttft_s: float, per_token_s: float) -> None:
    ttft_err: list[float] = []
    itl_err: list[float] = []
    body = dict(BODY, stream=True, max_tokens=8, min_tokens=8)
    async with aiohttp.ClientSession() as session:
        for _ in range(n):
            t0 = time.perf_counter()
            stamps = []
            async with session.post(f"{base_url}/chat/completions", json=body) as resp:
                async for line in resp.content:
                    if line.startswith(b"data: {") and b'"delta":{}' not in line:
                        stamps.append(time.perf_counter())
            ttft_err.append(stamps[0] - t0 - ttft_s)
            itl_err += [b - a - per_token_s for a, b in itertools.pairwise(stamps)]
    for name, errs in (("TTFT", ttft_err), ("ITL", itl_err)):
        errs_ms = sorted(e * 1000 for e in errs)
        p99 = errs_ms[int(0.99 * (len(errs_ms) - 1))]
        print(
            f"{name} error vs configured: median {statistics.median(errs_ms):+.2f} ms, "
            f"p99 {p99:+.2f} ms, max {errs_ms[-1]:+.2f} ms (n={len(errs_ms)})"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--concurrency", type=int, default=128)
    p.add_argument("--stream", action="store_true")
    p.add_argument("--ttft-ms", type=float, default=50.0)
    p.add_argument("--per-token-ms", type=float, default=10.0)
    p.add_argument("--timing-n", type=int, default=100)
    a = p.parse_args()
    with SubprocessServer(["--default-content", "4"]) as srv:
        assert srv.proc is not None
        cpu0, ccpu0 = _cpu_s(srv.proc.pid), time.process_time()
        wall = asyncio.run(_load(srv.base_url, a.n, a.concurrency, a.stream))
        cpu1, ccpu1 = _cpu_s(srv.proc.pid), time.process_time()
        stats = srv.stats()
    print(
        f"zero latency, {'stream' if a.stream else 'json'}: {a.n} requests at concurrency "
        f"{a.concurrency} in {wall:.2f} s = {a.n / wall:.0f} req/s; server CPU "
        f"{(cpu1 - cpu0) / a.n * 1e3:.3f} ms/request, client CPU "
        f"{(ccpu1 - ccpu0) / a.n * 1e3:.3f} ms/request; server counted "
        f"{stats['total_successes']} successes"
    )
    if a.timing_n > 0:
        args = ["--ttft-ms", str(a.ttft_ms), "--per-token-ms", str(a.per_token_ms)]
        with SubprocessServer(args) as srv:
            asyncio.run(_timing(srv.base_url, a.timing_n, a.ttft_ms / 1e3, a.per_token_ms / 1e3))


if __name__ == "__main__":
    main()
