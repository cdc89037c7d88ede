"""Store throughput: durable writes by batch size, and reads/exports of 100k records.

Run: .venv/bin/python bench/store.py [--pg URL] [--n-read 100000]
PostgreSQL is measured when --pg or NULLBAND_TEST_PG_URL gives a reachable server
(tables go into a private schema that is dropped afterwards).
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from nullband._ids import new_run_id
from nullband.records import Attempt, Provenance, Record, Usage
from nullband.store import RunInfo, SqlStore, open_store
from nullband.store.drift import target_drift
from nullband.store.export import export_results

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def records(run_id: str, n: int, start: int = 0) -> list[Record]:
    """Realistic single-call records: ~200 chars of output, one attempt, usage, provenance."""
    out = []
    for i in range(start, start + n):
        at = T0 + timedelta(milliseconds=i)
        out.append(
            Record(
                run_id=run_id,
                case_id=f"case-{i:07d}",
                case_hash=f"{i:016x}",
                target="cand",
                request_hash=f"{i:016x}",
                status="ok",
                output_text=("The answer is 42 because " * 8)[:200],
                finish_reason="stop",
                usage=Usage(input_tokens=120, output_tokens=40),
                latency_s=0.05,
                attempts=[Attempt(n=1, started_at=at, latency_s=0.05, status=200)],
                cost_usd=0.0001,
                provenance=Provenance(
                    requested="acme-2026-05-01",
                    served="acme-2026-05-01" if i % 50_000 < 40_000 else "acme-2026-06-01",
                    fingerprint="fp_1",
                ),
                scores={"pass": float(i % 2)},
                created_at=at,
            )
        )
    return out


def new_run(store: SqlStore, n_cases: int) -> str:
    rid = new_run_id()
    now = datetime.now(UTC)
    store.create_run(
        RunInfo(
            run_id=rid,
            created_at=now,
            updated_at=now,
            status="running",
            config_hash="bench",
            targets={"cand": "acme-2026-05-01"},
            n_cases=n_cases,
        )
    )
    return rid


LAST_CPU = [0.0]


def timed(fn: Callable[[], object]) -> float:
    """Wall seconds of ``fn()``; its process CPU seconds go to LAST_CPU[0]."""
    c = time.process_time()
    t = time.perf_counter()
    fn()
    LAST_CPU[0] = time.process_time() - c
    return time.perf_counter() - t


def cpu_note(n: int) -> str:
    return f"  CPU {LAST_CPU[0] / n * 1e6:5.1f} us each"


def bench_writes(store: SqlStore, label: str) -> None:
    for batch, n in ((1, 1_000), (64, 20_480), (512, 51_200)):
        rid = new_run(store, n)
        recs = records(rid, n)
        chunks = [recs[i : i + batch] for i in range(0, n, batch)]
        cpu0 = time.process_time()
        dt = timed(lambda chunks=chunks: [store.write_records(c) for c in chunks])
        cpu = time.process_time() - cpu0
        print(
            f"{label:<22} write batch={batch:<4} {n:>7} records  {n / dt:>9,.0f} records/s  "
            f"{dt / (n / batch) * 1e3:7.2f} ms/commit  client CPU {cpu / n * 1e6:6.1f} us/record"
        )


def bench_reads(store: SqlStore, label: str, n: int) -> None:
    rid = new_run(store, n)
    for start in range(0, n, 5_000):
        store.write_records(records(rid, min(5_000, n - start), start))
    tracemalloc.start()
    dt = timed(lambda: sum(1 for _ in store.iter_records(rid)))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(
        f"{label:<22} iter_records      {n:>7} records  {n / dt:>9,.0f} records/s  "
        f"(peak Python allocations {peak / 2**20:.1f} MiB; tracing slows this line)"
    )
    dt = timed(lambda: sum(1 for _ in store.iter_records(rid)))
    print(f"{label:<22} iter_records      {n:>7} records  {n / dt:>9,.0f} records/s" + cpu_note(n))
    dt = timed(lambda: store.completed_keys(rid))
    print(f"{label:<22} completed_keys    {n:>7} records  {dt * 1e3:9.0f} ms")
    dt = timed(lambda: store.spend(rid))
    print(f"{label:<22} spend             {n:>7} records  {dt * 1e3:9.0f} ms")
    sink = io.BytesIO()
    dt = timed(lambda: export_results(store, rid, sink, fmt="jsonl"))
    print(f"{label:<22} export jsonl       {n:>7} rows     {n / dt:>9,.0f} rows/s" + cpu_note(n))
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "r.parquet"
        dt = timed(lambda: export_results(store, rid, p, fmt="parquet"))
        print(
            f"{label:<22} export parquet     {n:>7} rows     {n / dt:>9,.0f} rows/s" + cpu_note(n)
        )
    run = store.get_run(rid)
    assert run is not None
    dt = timed(lambda: target_drift(store, run, "cand"))
    print(f"{label:<22} drift (one run)    {n:>7} records  {dt * 1e3:9.0f} ms" + cpu_note(n))


def pg_schema_url(url: str) -> tuple[str, Callable[[], None]]:
    from sqlalchemy import create_engine, text

    schema = "nbbench_" + new_run_id().lower()
    eng = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with eng.begin() as c:
        c.execute(text(f"CREATE SCHEMA {schema}"))

    def drop() -> None:
        with eng.begin() as c:
            c.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        eng.dispose()

    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}", drop


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg", default=os.environ.get("NULLBAND_TEST_PG_URL"))
    ap.add_argument("--n-read", type=int, default=100_000)
    args = ap.parse_args()
    load = os.getloadavg()
    print(
        f"store bench, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, "
        f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
    )
    with tempfile.TemporaryDirectory() as d:
        for sync in ("FULL", "NORMAL"):
            with open_store(Path(d) / f"w-{sync}.db", sqlite_synchronous=sync) as s:  # type: ignore[arg-type]
                bench_writes(s, f"sqlite sync={sync}")
        with open_store(Path(d) / "r.db") as s:
            bench_reads(s, "sqlite", args.n_read)
    if args.pg:
        try:
            url, drop = pg_schema_url(args.pg)
        except Exception as exc:
            print(f"postgresql not reachable ({type(exc).__name__}); skipped")
            return
        try:
            with open_store(url) as s:
                bench_writes(s, "postgresql")
                bench_reads(s, "postgresql", args.n_read)
        finally:
            drop()
    else:
        print("postgresql: no URL (--pg or NULLBAND_TEST_PG_URL); skipped")


if __name__ == "__main__":
    main()
