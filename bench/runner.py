"""Runner throughput and memory, side by side with a raw aiohttp loop (the floor).

Figures:
- requests/s and client CPU per request (process CPU time / requests) of a minimal raw
  aiohttp client loop and of ``run_eval`` (every record durably stored in SQLite with
  synchronous=FULL), each sending N requests at concurrency C to the test server with
  zero latency. The server runs in a separate process, so its CPU is not counted.
- peak memory (ru_maxrss of the runner process) of a 100,000-case run.

Usage: .venv/bin/python bench/runner.py [--requests 10000] [--concurrency 128]
       [--rounds 3] [--memory-cases 100000] [--modes both|thread|process|auto] [--profile] [--lean-floor]

CPU per request of the runner includes its store process (reaped at the end of the
run, so ``RUSAGE_CHILDREN`` holds it); the server's CPU is never counted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from nullband.config import EvalConfig
from nullband.run.runner import run_eval
from nullband.store import open_store
from nullband.testserver.subprocess import SubprocessServer


def write_suite(folder: Path, n: int) -> Path:
    path = folder / "suite.jsonl"
    with path.open("w") as fh:
        for i in range(n):
            fh.write(f'{{"id": "c{i:06d}", "prompt": "echo {i}", "expected": "echo {i}"}}\n')
    return path


async def floor(base_url: str, n: int, conc: int) -> tuple[float, float]:
    """The floor: raw aiohttp, one pooled session, parse each JSON body, nothing stored."""
    url = base_url + "/chat/completions"
    connector = aiohttp.TCPConnector(limit=conc)
    async with aiohttp.ClientSession(connector=connector) as session:
        todo = iter(range(n))

        async def worker() -> None:
            for i in todo:
                body = orjson.dumps(
                    {
                        "model": "m-2026-01-01",
                        "messages": [{"role": "user", "content": f"echo {i}"}],
                    }
                )
                async with session.post(
                    url, data=body, headers={"Content-Type": "application/json"}
                ) as resp:
                    data = orjson.loads(await resp.read())
                    assert data["choices"][0]["message"]["content"] == f"echo {i}"

        c0, t0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(conc)))
        return time.perf_counter() - t0, time.process_time() - c0


async def lean_floor(base_url: str, n: int, conc: int) -> tuple[float, float]:
    """The floor's loop on nullband's own HTTP client (``Http1Pool``) instead of aiohttp."""
    from nullband.targets.http1 import Http1Pool

    pool = Http1Pool(base_url, {"Content-Type": "application/json"}, max_idle=conc)
    todo = iter(range(n))

    async def worker() -> None:
        for i in todo:
            body = orjson.dumps(
                {"model": "m-2026-01-01", "messages": [{"role": "user", "content": f"echo {i}"}]}
            )
            resp = await pool.post("/chat/completions", body, {})
            try:
                data = orjson.loads(await resp.read())
            finally:
                pool.release(resp)
            assert data["choices"][0]["message"]["content"] == f"echo {i}"

    c0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(conc)))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    await pool.close()
    return wall, cpu


def eval_config(folder: Path, base_url: str, conc: int) -> EvalConfig:
    return EvalConfig.model_validate(
        {
            "suite": "suite.jsonl",
            "targets": [
                {
                    "name": "cand",
                    "base_url": base_url,
                    "model": "m-2026-01-01",
                    "concurrency": conc,
                    "timeout_s": 30,
                }
            ],
            "scorers": ["exact"],
            "store": str(folder / "runs.db"),
        }
    )


def _remove_store(folder: Path) -> None:
    for p in folder.glob("runs.db*"):
        p.unlink()


async def runner(
    folder: Path, base_url: str, conc: int, n: int, *, profile: bool = False, mode: str = "auto"
) -> tuple[float, float]:
    """One run; returns (wall s, CPU s of this process plus the store process if any).

    ``mode``: ``thread`` (the store on the runner's thread), ``process`` (a store
    process), or ``auto`` (what ``nullband run`` picks).
    """
    cfg = eval_config(folder, base_url, conc)
    db = folder / "runs.db"
    _remove_store(folder)
    env = {"thread": "0", "process": "1", "auto": os.environ.get("NULLBAND_STORE_PROCESS", "0")}[
        mode
    ]
    os.environ["NULLBAND_STORE_PROCESS"] = env
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    c0, t0, k0 = time.process_time(), time.perf_counter(), _children_cpu()
    summary = await run_eval(cfg, config_path=folder / "config.yaml", progress=False)
    wall = time.perf_counter() - t0
    # the store process (if any) has exited and been reaped by now: its CPU is counted
    cpu = time.process_time() - c0 + _children_cpu() - k0
    if prof is not None:
        import pstats

        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
    assert summary.ok == n, summary
    with open_store(db) as store:
        assert len(store.completed_keys(summary.run_id)) == n  # all durably stored
    return wall, cpu


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def memory_child(folder: str, base_url: str, conc: int) -> None:
    """Run a whole config in this (child) process and print its peak RSS."""
    cfg = eval_config(Path(folder), base_url, conc)
    summary = asyncio.run(run_eval(cfg, config_path=Path(folder) / "config.yaml", progress=False))
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    # the store process (when the run used one) is this process's only child, reaped
    store_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(
        json.dumps(
            {
                "ok": summary.ok,
                "elapsed_s": summary.elapsed_s,
                "peak_mb": peak_kib / 1024,
                "store_peak_mb": store_kib / 1024,
            }
        )
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--concurrency", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--memory-cases", type=int, default=100_000)
    ap.add_argument("--profile", action="store_true", help="cProfile one runner round")
    ap.add_argument(
        "--modes",
        choices=["both", "thread", "process", "auto"],
        default="both",
        help="store modes to run: the runner's thread, a store process, or both",
    )
    ap.add_argument(
        "--lean-floor",
        action="store_true",
        help="also run the floor's loop on nullband's HTTP client (its own cost)",
    )
    ap.add_argument("--memory-child", nargs=2, metavar=("FOLDER", "BASE_URL"))
    args = ap.parse_args()
    if args.memory_child:
        memory_child(args.memory_child[0], args.memory_child[1], args.concurrency)
        return 0
    n, conc = args.requests, args.concurrency
    with tempfile.TemporaryDirectory() as tmp, SubprocessServer([]) as srv:
        folder = Path(tmp)
        write_suite(folder, n)
        print(f"server: separate process, zero latency, {srv.base_url}")
        print(f"{n} requests at concurrency {conc}; {os.cpu_count()} CPUs (shared machine)")
        asyncio.run(floor(srv.base_url, 500, conc))  # warm up both sides
        modes = ["thread", "process"] if args.modes == "both" else [args.modes]
        results: dict[str, list[tuple[float, float]]] = {"floor": []}
        for r in range(args.rounds):
            results["floor"].append(asyncio.run(floor(srv.base_url, n, conc)))
            f = results["floor"][-1]
            line = f"round {r + 1}: floor {n / f[0]:,.0f} req/s ({f[1] / n * 1e3:.3f} ms CPU/req)"
            if args.lean_floor:
                lf = asyncio.run(lean_floor(srv.base_url, n, conc))
                results.setdefault("lean floor", []).append(lf)
                line += f"; lean floor {n / lf[0]:,.0f} req/s ({lf[1] / n * 1e3:.3f} ms CPU/req)"
            for m in modes:
                prof = args.profile and r == 0
                u = asyncio.run(runner(folder, srv.base_url, conc, n, profile=prof, mode=m))
                results.setdefault(m, []).append(u)
                line += (
                    f"; runner[{m}] {n / u[0]:,.0f} req/s ({u[1] / n * 1e3:.3f} ms CPU/req) "
                    f"= {f[0] / u[0]:.0%} of floor"
                )
            print(line, flush=True)
        if args.rounds:
            for k, v in results.items():
                rate = statistics.median(n / w for w, _ in v)
                cpu = statistics.median(c / n * 1e3 for _, c in v)
                line = f"median {k}: {rate:,.0f} req/s, {cpu:.3f} ms CPU/req"
                if k not in ("floor", "lean floor"):
                    ratios = [f[0] / u[0] for f, u in zip(results["floor"], v, strict=True)]
                    line += (
                        f"; runner/floor per round: median {statistics.median(ratios):.0%}, "
                        f"worst {min(ratios):.0%}, best {max(ratios):.0%}"
                    )
                print(line)
        if args.memory_cases:
            mem = folder / "mem"
            mem.mkdir()
            write_suite(mem, args.memory_cases)
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--memory-child",
                    str(mem),
                    srv.base_url,
                    "--concurrency",
                    str(conc),
                ],
                capture_output=True,
                text=True,
                check=True,
                # the default store mode (the rounds above set the variable per mode)
                env={k: v for k, v in os.environ.items() if k != "NULLBAND_STORE_PROCESS"},
            )
            res: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
            both = res["peak_mb"] + res["store_peak_mb"]
            print(
                f"memory: {res['ok']:,} cases in {res['elapsed_s']:.1f} s, "
                f"peak RSS of the runner process {res['peak_mb']:.0f} MB, "
                f"of its store process {res['store_peak_mb']:.0f} MB "
                f"(sum of the two peaks {both:.0f} MB)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
