"""Benchmarks of the compare engine (issue #3), side by side in one run.

1. Paired bootstrap, n = 840 binary (the field notes' 599 vs 617 passes), 10,000
   resamples: nullband vs the field notes' Python loop vs scipy.stats.bootstrap.
2. Paired bootstrap of n = 1,000,000 continuous scores, 10,000 resamples: wall time and
   peak memory (run in a child process so its peak RSS is its own).
3. compare_rows over a 100,000-case run with 40 segments (10,000 resamples each), from
   rows in memory and from a JSONL results file.

Run: .venv/bin/python bench/compare.py
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np


def field_notes_loop(
    a: np.ndarray, b: np.ndarray, iters: int = 10_000, seed: int = 0
) -> tuple[float, float, float]:
    """The post's paired_bootstrap, as printed (one resample per Python iteration)."""
    rng = np.random.default_rng(seed)
    n = len(a)
    diffs = np.empty(iters)
    for i in range(iters):
        idx = rng.integers(0, n, n)
        diffs[i] = b[idx].mean() - a[idx].mean()
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return float(diffs.mean()), float(lo), float(hi)


def _timed(fn: object, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append(time.perf_counter() - t)
    return out


def bench_binary() -> None:
    from scipy import stats as st

    from nullband.stats import (
        exact_binary_percentile_interval,
        paired_binary_bootstrap,
        paired_summary,
    )

    cells = [(1, 1)] * 550 + [(1, 0)] * 49 + [(0, 1)] * 67 + [(0, 0)] * 174
    order = np.random.default_rng(840).permutation(840)
    a = np.array([cells[k][0] for k in order], dtype=float)
    b = np.array([cells[k][1] for k in order], dtype=float)

    def ours() -> object:
        return paired_binary_bootstrap(49, 67, 840, resamples=10_000, seed=0)

    def ours_full() -> object:
        return paired_summary(a, b, resamples=10_000, seed=0)

    def scipy_boot() -> object:
        return st.bootstrap(
            (a, b),
            lambda x, y, axis: y.mean(axis=axis) - x.mean(axis=axis),
            paired=True,
            vectorized=True,
            n_resamples=10_000,
            method="percentile",
            random_state=0,
        )

    # Interleave the three so that load from other processes hits them alike.
    t_ours: list[float] = []
    t_full: list[float] = []
    t_loop: list[float] = []
    t_scipy: list[float] = []
    ours()
    for _ in range(3):
        t_ours += _timed(ours, 200)
        t_full += _timed(ours_full, 50)
        t_loop += _timed(lambda: field_notes_loop(a, b), 1)
        t_scipy += _timed(scipy_boot, 1)
    mo, mf = statistics.median(t_ours), statistics.median(t_full)
    ml, ms = statistics.median(t_loop), statistics.median(t_scipy)
    iv = paired_binary_bootstrap(49, 67, 840, resamples=10_000, seed=0).interval
    ex = exact_binary_percentile_interval(49, 67, 840)
    _, llo, lhi = field_notes_loop(a, b)
    sc = scipy_boot().confidence_interval  # type: ignore[attr-defined]
    print("1. paired bootstrap, n=840 binary, 10,000 resamples (median of repeated runs)")
    print(
        f"   nullband paired_binary_bootstrap : {mo * 1e3:9.3f} ms   CI [{iv.lo:+.4f}, {iv.hi:+.4f}]"
    )
    print(
        f"   nullband paired_summary (all)    : {mf * 1e3:9.3f} ms   (Wilson, McNemar, MDE, exact CI too)"
    )
    print(f"   field notes' Python loop         : {ml * 1e3:9.1f} ms   CI [{llo:+.4f}, {lhi:+.4f}]")
    print(
        f"   scipy.stats.bootstrap (paired)   : {ms * 1e3:9.1f} ms   CI [{sc.low:+.4f}, {sc.high:+.4f}]"
    )
    print(f"   exact bootstrap (B = infinity)   :                CI [{ex.lo:+.4f}, {ex.hi:+.4f}]")
    print(f"   speed-up vs loop: {ml / mo:,.0f}x   vs scipy: {ms / mo:,.0f}x")


def child_continuous() -> None:
    """Run in a child: n = 1e6 continuous, 10,000 resamples; print time and memory."""
    from nullband.stats import bootstrap_mean

    rng = np.random.default_rng(1)
    base = rng.beta(4, 2, 1_000_000)
    cand = np.clip(base + rng.normal(0.002, 0.05, 1_000_000), 0, 1)
    d = cand - base
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    t, c = time.perf_counter(), time.process_time()
    r = bootstrap_mean(d, resamples=10_000, seed=0)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"   wall {wall:.2f} s, CPU {cpu:.2f} s; engine {r.engine}; CI [{r.interval.lo:+.6f}, {r.interval.hi:+.6f}]"
    )
    print(f"   numpy/python peak allocation during the bootstrap: {peak / 2**20:.0f} MiB")
    print(
        f"   process peak RSS: {rss / 1024:.0f} MiB (before the bootstrap: {rss0 / 1024:.0f} MiB, "
        "incl. the 16 MiB of input and the interpreter)"
    )
    print(f"   {r.interval.reason}")


def bench_continuous() -> None:
    print("2. paired bootstrap, n=1,000,000 continuous, 10,000 resamples (child process)")
    env = dict(os.environ, OMP_NUM_THREADS="2", OPENBLAS_NUM_THREADS="2")
    subprocess.run([sys.executable, __file__, "--child-continuous"], check=True, env=env)


def bench_compare() -> None:
    from nullband.compare import compare_rows, load_results
    from nullband.records import ModelInfo, ResultRow

    rng = np.random.default_rng(100)
    n = 100_000
    seg = rng.integers(0, 40, n)
    p = rng.uniform(0.6, 0.95, n)
    a = (rng.random(n) < p).astype(float)
    b = np.where(rng.random(n) < 0.9, a, (rng.random(n) < p).astype(float))
    t = time.perf_counter()
    base = [
        ResultRow(
            case_id=f"c{i:06d}",
            scores={"pass": a[i]},
            segments={"customer": f"s{seg[i]:02d}"},
            model=ModelInfo(requested="m/a", served="a"),
        )
        for i in range(n)
    ]
    cand = [
        ResultRow(
            case_id=f"c{i:06d}",
            scores={"pass": b[i]},
            segments={"customer": f"s{seg[i]:02d}"},
            model=ModelInfo(requested="m/b", served="b"),
        )
        for i in range(n)
    ]
    build = time.perf_counter() - t
    t, c = time.perf_counter(), time.process_time()
    cmp = compare_rows(base, cand, by=["customer"], resamples=10_000, seed=0)
    mem, mem_cpu = time.perf_counter() - t, time.process_time() - c
    with tempfile.TemporaryDirectory() as tmp:
        pb, pc = Path(tmp) / "b.jsonl", Path(tmp) / "c.jsonl"
        pb.write_text("".join(r.model_dump_json() + "\n" for r in base))
        pc.write_text("".join(r.model_dump_json() + "\n" for r in cand))
        t, c = time.perf_counter(), time.process_time()
        cmp2 = compare_rows(
            load_results(pb), load_results(pc), by=["customer"], resamples=10_000, seed=0
        )
        full, full_cpu = time.perf_counter() - t, time.process_time() - c
    assert cmp2.overall.n == n
    print("3. compare over a 100,000-case run, 40 segments, 10,000 resamples each")
    print(
        f"   compare_rows on rows in memory : {mem:.2f} s wall, {mem_cpu:.2f} s CPU ({len(cmp.segments)} segments)"
    )
    print(
        f"   read two JSONL files + compare : {full:.2f} s wall, {full_cpu:.2f} s CPU (pydantic validation of 200,000 rows dominates)"
    )
    print(f"   (building the 200,000 ResultRow objects for the in-memory case: {build:.2f} s)")


if __name__ == "__main__":
    if "--child-continuous" in sys.argv:
        child_continuous()
        sys.exit(0)
    print(f"bench/compare.py on {os.cpu_count()} cores; numpy {np.__version__}")
    bench_binary()
    bench_continuous()
    bench_compare()
