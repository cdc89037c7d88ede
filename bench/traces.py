"""Benchmark: auditing 1,000,000 spans (about 1.1 GB of generic JSONL), side by side.

Variants, each run in its own process (pinned to two cores with ``taskset`` when it is
available), with the peak resident memory of its whole process tree sampled every 20 ms:

- ``parse``: a bare ``json.loads`` loop over the file, one process (the baseline);
- ``orjson2``: orjson parses every line in 2 processes, audits nothing (a ceiling);
- ``msgspec2``: msgspec decodes every line into the fast engine's struct of only the
  audited fields, in 2 processes, audits nothing (the fast engine's parse ceiling);
- ``naive``: a plain-Python audit: ``json.loads`` per line, the same rules written
  directly, ``jsonschema`` validators (compiled once per tool) for tool calls, dicts for
  grouping, ``statistics.median`` per class;
- ``fast``: ``nullband.traces.audit_file_fast`` with 2 worker processes (what
  ``--engine fast`` and auto run), with the C scanner (``nullband.traces.native``);
- ``fastrows``: ``fast``, then every per-trace row built (``report.rows``: the report
  builds them on first access, as writing the per-trace audit JSONL does);
- ``fastpy``: the same engine without the C scanner (its msgspec path);
- ``python``: ``nullband.traces.audit_file(engine="python")`` (pydantic steps), on a
  100,000-span prefix only (it is the small-file engine).

``--per-line`` prints the CPU per line of each stage of the fast engine on the first
50,000 lines, in one process.

Usage: .venv/bin/python bench/traces.py [--spans 1000000] [--file /tmp/nullband-bench-traces.jsonl]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def generate(path: Path, spans: int) -> None:
    import orjson

    from nullband.traces.synth import iter_synth

    n = 0
    with path.open("wb") as fh:
        buf: list[bytes] = []
        for steps, _, _ in iter_synth(spans // 3 + (spans % 3 > 0), seed=1):
            buf.extend(orjson.dumps(s) for s in steps)
            if len(buf) >= 30_000:
                fh.write(b"\n".join(buf) + b"\n")
                n += len(buf)
                buf = []
        if buf:
            fh.write(b"\n".join(buf) + b"\n")


def _config() -> Any:
    from nullband.traces.audit_models import AuditConfig
    from nullband.traces.synth import RESULT_SCHEMAS, TOOLS

    return AuditConfig(tool_schemas=TOOLS, result_schemas=RESULT_SCHEMAS)


def run_parse(path: Path) -> dict[str, Any]:
    n = 0
    with path.open("rb") as fh:
        for line in fh:
            json.loads(line)
            n += 1
    return {"spans": n}


def run_naive(path: Path) -> dict[str, Any]:
    import jsonschema

    from nullband.traces.synth import RESULT_SCHEMAS, TOOLS

    tool_v = {k: jsonschema.Draft202012Validator(v) for k, v in TOOLS.items()}
    res_v = {k: jsonschema.Draft202012Validator(v) for k, v in RESULT_SCHEMAS.items()}
    traces: dict[str, list[tuple[Any, ...]]] = {}
    samples: dict[tuple[str, str, str], list[float]] = {}
    n = 0
    with path.open("rb") as fh:
        for line in fh:
            d = json.loads(line)
            n += 1
            flags = []
            if d.get("fallback_index"):
                flags.append("fallback")
            if d.get("retry_count"):
                flags.append("retry")
            req, got = d.get("model_requested"), d.get("model_served") or d.get("model_routed")
            if req and got and req.lower().rsplit("/", 1)[-1] != got.lower().rsplit("/", 1)[-1]:
                flags.append("model_mismatch")
            if d.get("cache_hit"):
                flags.append("cache_hit")
            if d.get("status") == "error":
                flags.append("step_error")
            kind = d.get("kind", "llm")
            if kind == "tool":
                name = d.get("tool_name")
                if name in tool_v and not tool_v[name].is_valid(json.loads(d["tool_arguments"])):
                    flags.append("tool_args_invalid")
                if name in res_v and not res_v[name].is_valid(d.get("tool_result")):
                    flags.append("tool_result_invalid")
                label = name
            else:
                for call in (d.get("output_message") or {}).get("tool_calls") or []:
                    fn = call["function"]
                    if fn["name"] in tool_v and not tool_v[fn["name"]].is_valid(
                        json.loads(fn["arguments"])
                    ):
                        flags.append("tool_args_invalid")
                label = d.get("model_served") or d.get("model_requested")
            dur = d.get("duration_ms")
            key = (d.get("task_class") or "-", kind, str(label))
            if (
                dur is not None
                and not d.get("cache_hit")
                and d.get("status") != "error"
                and not d.get("fallback_index")
            ):
                samples.setdefault(key, []).append(dur)
            traces.setdefault(d["trace_id"], []).append((key, dur, flags))
    medians = {k: statistics.median(v) for k, v in samples.items() if len(v) >= 5}
    verdicts = {"clean": 0, "noisy": 0, "corrupted": 0}
    for steps in traces.values():
        worst = "clean"
        for key, dur, flags in steps:
            med = medians.get(key)
            if med is not None and dur is not None and dur > 1.5 * med:
                flags = [*flags, "slow_span"]
            for f in flags:
                if f.startswith("tool_"):
                    worst = "corrupted"
                elif worst == "clean":
                    worst = "noisy"
        verdicts[worst] += 1
    return {"spans": n, "verdicts": verdicts}


def run_fast(path: Path) -> dict[str, Any]:
    from nullband.traces.fastaudit import audit_file_fast
    from nullband.traces.native import native_available

    rep = audit_file_fast(path, _config(), processes=2)
    return {
        "spans": rep.summary.n_steps,
        "verdicts": rep.summary.verdicts,
        "native": native_available(),
    }


def run_fastrows(path: Path) -> dict[str, Any]:
    from nullband.traces.fastaudit import audit_file_fast

    rep = audit_file_fast(path, _config(), processes=2)
    rows = rep.rows
    return {
        "spans": rep.summary.n_steps,
        "verdicts": rep.summary.verdicts,
        "rows": len(rows),
        "flagged_rows": sum(1 for r in rows if r[4]),
    }


def run_fastpy(path: Path) -> dict[str, Any]:
    from nullband.traces.fastaudit import audit_file_fast

    rep = audit_file_fast(path, _config(), processes=2, native=False)
    return {"spans": rep.summary.n_steps, "verdicts": rep.summary.verdicts}


def _range_jobs(path: Path) -> list[tuple[str, int, int]]:
    from nullband.traces.fastaudit import _cuts

    n = path.stat().st_size // (16 << 20) + 1
    return [(str(path), a, b) for a, b, _ in _cuts(path, n)]


def _decode_range(decoder: str, job: tuple[str, int, int]) -> int:
    """Decode every line of one byte range with ``decoder`` ("orjson": whole lines;
    "msgspec": only the audited fields); returns the line count."""
    import io

    if decoder == "orjson":
        from orjson import loads as decode
    else:
        from nullband.traces.msgstep import decode_step as decode

    name, start, end = job
    with open(name, "rb") as fh:
        fh.seek(start)
        data = fh.read(end - start)
    n = 0
    for line in io.BytesIO(data):
        decode(line)
        n += 1
    return n


def _pool_sum(fn: Any, path: Path) -> int:
    import multiprocessing as mp

    with mp.get_context("fork").Pool(2) as pool:
        return sum(pool.imap_unordered(fn, _range_jobs(path)))


def run_orjson2(path: Path) -> dict[str, Any]:
    """Ceiling of any engine that parses every line with orjson: 2 processes, no rules."""
    return {"spans": _pool_sum(functools.partial(_decode_range, "orjson"), path)}


def run_msgspec2(path: Path) -> dict[str, Any]:
    """Ceiling of the fast engine's decoding: 2 processes, only the audited fields, no rules."""
    import nullband.traces.msgstep  # noqa: F401  # imported before the fork, as the engine does

    return {"spans": _pool_sum(functools.partial(_decode_range, "msgspec"), path)}


def run_python(path: Path) -> dict[str, Any]:
    from itertools import islice

    prefix = Path(str(path) + ".prefix100k")
    if not prefix.exists():
        with path.open("rb") as src, prefix.open("wb") as dst:
            dst.writelines(islice(src, 100_000))
    from nullband.traces.pipeline import audit_file

    rep = audit_file(prefix, _config(), engine="python")
    return {"spans": rep.summary.n_steps, "verdicts": rep.summary.verdicts}


VARIANTS = {
    "parse": run_parse,
    "orjson2": run_orjson2,
    "msgspec2": run_msgspec2,
    "naive": run_naive,
    "fast": run_fast,
    "fastrows": run_fastrows,
    "fastpy": run_fastpy,
    "python": run_python,
}


def per_line(path: Path, n: int = 200_000) -> None:
    """CPU per line of each stage of the fast engine, one process, collector off.

    Each measurement is the best of three; the chunk auditor starts with empty caches each
    time (as a worker does), so argument memos are cold, like on a fresh file.
    """
    import gc
    import io
    from itertools import islice

    import orjson

    from nullband.traces.audit import AuditContext, StepFacts
    from nullband.traces.fastreduce import Reducer
    from nullband.traces.msgaudit import ChunkAuditor
    from nullband.traces.msgstep import decode_step as _DECODE
    from nullband.traces.native import NativeChunkAuditor, _scan, build_plan

    with path.open("rb") as fh:
        lines = list(islice(fh, n))
    data = b"".join(lines)
    cfg = _config()
    blocks = []
    pos = 0
    while pos < len(data):
        end = data.find(b"\n", pos + (16 << 20))
        end = len(data) if end < 0 else end + 1
        blocks.append((data[pos:end], pos))
        pos = end

    def run_json() -> None:
        for line in io.BytesIO(data):
            json.loads(line)

    def run_orjson() -> None:
        for line in io.BytesIO(data):
            orjson.loads(line)

    def run_decode() -> None:
        for line in io.BytesIO(data):
            _DECODE(line)

    chunks: list[Any] = []

    def run_chunks() -> None:
        auditor = ChunkAuditor(AuditContext(cfg))
        chunks[:] = [auditor.run(b, start, start << 20, "x") for b, start in blocks]

    def run_scan() -> None:
        plan = build_plan(AuditContext(cfg))
        for b, start in blocks:
            _scan.scan(b, plan, start << 20)

    declined = [0]

    def run_native() -> None:
        auditor = NativeChunkAuditor(AuditContext(cfg))
        chunks[:] = [auditor.run(b, start, start << 20, "x") for b, start in blocks]
        declined[0] = auditor.declined

    def run_chunks_stub() -> None:
        # the same, with the reference per-step function replaced by a stub that returns
        # no flag: the difference to the full run is what the reference function costs
        auditor = ChunkAuditor(AuditContext(cfg))
        auditor._facts = lambda s, idx: StepFacts(  # type: ignore[method-assign]
            s.trace_id, s.step_id, 0.0, idx, None, s.kind, "-", None, False, False, []
        )
        for b, start in blocks:
            auditor.run(b, start, start << 20, "x")

    def run_reduce() -> None:
        red = Reducer(cfg)
        for c in chunks:
            red.add(c)
        red.report()

    gc.disable()
    for name, fn in (
        ("json.loads loop (the baseline's work)", run_json),
        ("orjson.loads loop", run_orjson),
        ("msgspec decode of the audited fields", run_decode),
        ("worker, reference per-step function stubbed out", run_chunks_stub),
        ("worker: decode + screen + reference function on flagged rows", run_chunks),
        ("C scanner alone (validate, screen, simple flags, bookkeeping)", run_scan),
        ("native worker: C scanner + declined rows in Python + finalize", run_native),
        ("parent: merge + medians + verdicts (native chunks)", run_reduce),
    ):
        best = min(_timed(fn) for _ in range(3))
        print(f"per line ({len(lines)} lines, best of 3): {name}: {best / len(lines) * 1e6:.2f} us")
    special = sum(len(c.special) for c in chunks)
    n = len(lines)
    print(f"rows with per-step facts (may carry a flag): {special} ({special / n:.1%})")
    print(f"rows the C scanner declined (msgspec path): {declined[0]} ({declined[0] / n:.1%})")
    gc.enable()


def _timed(fn: Any) -> float:
    t = time.process_time()
    fn()
    return time.process_time() - t


def _tree_rss_kb(pid: int) -> int:
    total = 0
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{p}/task").iterdir():
                kids = (task / "children").read_text().split()
                stack.extend(int(k) for k in kids)
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


def measure(variant: str, path: Path) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", variant, "--file", str(path)]
    if shutil.which("taskset"):
        cmd = ["taskset", "-c", "0,1", *cmd]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    peak = 0
    stop = threading.Event()

    def poll() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_rss_kb(proc.pid))
            time.sleep(0.02)

    th = threading.Thread(target=poll, daemon=True)
    th.start()
    assert proc.stdout is not None
    out = proc.stdout.read()
    # the rusage of the waited child includes its own waited children (the workers)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    stop.set()
    th.join()
    if proc.returncode != 0:
        raise SystemExit(f"{variant} failed with exit code {proc.returncode}")
    result = json.loads(out.strip().splitlines()[-1])
    return {
        "variant": variant,
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(peak / 1024),
        **result,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spans", type=int, default=1_000_000)
    ap.add_argument("--file", type=Path, default=Path("/tmp/nullband-bench-traces.jsonl"))
    ap.add_argument("--child", choices=list(VARIANTS))
    ap.add_argument("--per-line", action="store_true", help="only the per-line CPU costs")
    ap.add_argument("--variants", default="parse,orjson2,msgspec2,naive,fast,fastpy,python")
    args = ap.parse_args()
    if args.child:
        t = time.perf_counter()
        res = VARIANTS[args.child](args.file)
        res["inner_s"] = round(time.perf_counter() - t, 2)
        print(json.dumps(res))
        return
    if not args.file.exists():
        print(f"generating {args.spans} spans into {args.file} ...", flush=True)
        generate(args.file, args.spans)
    if args.per_line:
        per_line(args.file)
        return
    size = args.file.stat().st_size
    print(
        f"file {args.file}: {size / 1e9:.2f} GB; cpus visible {os.cpu_count()}; load {os.getloadavg()}"
    )
    rows = [measure(v, args.file) for v in args.variants.split(",")]
    by = {r["variant"]: r for r in rows}
    for r in rows:
        print(json.dumps(r))
    for eng in ("orjson2", "msgspec2", "fast", "fastrows", "fastpy"):
        for base in ("parse", "naive"):
            if eng in by and base in by:
                a, b = by[base], by[eng]
                print(
                    f"{eng} vs {base}: {a['wall_s'] / b['wall_s']:.2f}x faster in wall time "
                    f"(process start included), {a['cpu_s'] / b['cpu_s']:.2f}x less CPU time"
                )
    print(f"load at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
