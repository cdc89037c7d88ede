"""Timeline of one fast-engine audit of the benchmark file: when each phase happens.

Runs the ``fast`` variant of ``bench/traces.py`` in a child process (as the benchmark
does, pinned to cores 0,1) with time stamps taken from the moment the child is started:
imports, configuration, the first and last chunk of each worker, each chunk the parent
merges, the final reduce, the end. Worker stamps are written to files under /tmp.

Usage: .venv/bin/python bench/traces_timeline.py [--file /tmp/nullband-bench-traces.jsonl]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def child(path: Path, t0: float, stamps_dir: str) -> None:
    """The instrumented run (in the child process)."""
    marks: list[tuple[str, float]] = [("child python starts running code", time.time() - t0)]
    sys.path.insert(0, str(ROOT / "src"))
    sys.path.insert(0, str(ROOT / "bench"))
    import traces as bench  # the benchmark's own module (its configuration)

    marks.append(("bench module imported", time.time() - t0))
    from nullband.traces import fastaudit
    from nullband.traces.fastreduce import Reducer

    marks.append(("nullband.traces.fastaudit imported", time.time() - t0))
    chunk_blob = fastaudit._chunk_blob

    def timed_blob(job: tuple[int, int, int]) -> bytes | str:
        a = time.time() - t0
        out = chunk_blob(job)
        b = time.time() - t0
        with open(os.path.join(stamps_dir, f"w{os.getpid()}"), "a") as fh:
            fh.write(f"{job[0]} {a:.4f} {b:.4f} {time.process_time():.4f}\n")
        return out

    timed_blob.__qualname__ = timed_blob.__name__ = "_chunk_blob"
    timed_blob.__module__ = fastaudit.__name__
    fastaudit._chunk_blob = timed_blob  # type: ignore[assignment]
    init = fastaudit._init

    def timed_init(*a: Any) -> None:
        s = time.time() - t0
        init(*a)
        with open(os.path.join(stamps_dir, f"i{os.getpid()}"), "w") as fh:
            fh.write(f"{s:.4f} {time.time() - t0:.4f}\n")

    timed_init.__qualname__ = timed_init.__name__ = "_init"
    timed_init.__module__ = fastaudit.__name__
    fastaudit._init = timed_init  # type: ignore[assignment]
    add, report = Reducer.add, Reducer.report
    adds: list[tuple[float, float]] = []

    def timed_add(self: Reducer, chunk: Any) -> None:
        a = time.time() - t0
        add(self, chunk)
        adds.append((a, time.time() - t0))

    def timed_report(self: Reducer) -> Any:
        marks.append(("final reduce starts", time.time() - t0))
        out = report(self)
        marks.append(("final reduce ends", time.time() - t0))
        return out

    Reducer.add = timed_add  # type: ignore[method-assign]
    Reducer.report = timed_report  # type: ignore[method-assign]
    cfg = bench._config()
    marks.append(("configuration built", time.time() - t0))
    rep = fastaudit.audit_file_fast(path, cfg, processes=2)
    marks.append(("report returned", time.time() - t0))
    cpu = time.process_time()
    print(
        json.dumps(
            {
                "marks": marks,
                "adds": adds,
                "parent_cpu": cpu,
                "verdicts": rep.summary.verdicts,
            }
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--file", type=Path, default=Path("/tmp/nullband-bench-traces.jsonl"))
    ap.add_argument("--child", action="store_true")
    ap.add_argument("--t0", type=float, default=0.0)
    ap.add_argument("--stamps", default="")
    args = ap.parse_args()
    if args.child:
        child(args.file, args.t0, args.stamps)
        return
    stamps = tempfile.mkdtemp(prefix="nullband-timeline-")
    try:
        print(f"load {os.getloadavg()}")
        t0 = time.time()
        cmd = [sys.executable, __file__, "--child", "--file", str(args.file)]
        cmd += ["--t0", repr(t0), "--stamps", stamps]
        if shutil.which("taskset"):
            cmd = ["taskset", "-c", "0,1", *cmd]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        out, _ = proc.communicate()
        wall = time.time() - t0
        res = json.loads(out.strip().splitlines()[-1])
        for name, t in res["marks"]:
            print(f"{t:7.3f} s  {name}")
        adds = res["adds"]
        print(f"{adds[0][0]:7.3f} s  parent merges its first chunk")
        print(f"{adds[-1][1]:7.3f} s  parent has merged its last chunk ({len(adds)} chunks)")
        print(f"         parent merge time in all {sum(b - a for a, b in adds):.3f} s")
        for f in sorted(os.listdir(stamps)):
            rows = Path(stamps, f).read_text().split()
            if f.startswith("i"):
                print(
                    f"{float(rows[0]):7.3f} s  worker {f[1:]} init starts; ends {float(rows[1]):.3f} s"
                )
                continue
            recs = [rows[i : i + 4] for i in range(0, len(rows), 4)]
            busy = sum(float(b) - float(a) for _, a, b, _ in recs)
            print(
                f"         worker {f[1:]}: {len(recs)} chunks, first starts {float(recs[0][1]):.3f} s,"
                f" last ends {float(recs[-1][2]):.3f} s, busy {busy:.3f} s, cpu {recs[-1][3]} s"
            )
        print(f"{wall:7.3f} s  child exited (wall as the benchmark measures it)")
        print(f"parent CPU {res['parent_cpu']:.3f} s; verdicts {res['verdicts']}")
        print(f"load {os.getloadavg()}")
    finally:
        if os.environ.get("KEEP_STAMPS"):
            print("stamps kept in", stamps)
        else:
            shutil.rmtree(stamps, ignore_errors=True)


if __name__ == "__main__":
    main()
