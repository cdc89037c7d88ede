"""Benchmark: scoring 100,000 tool calls (graded `tool_calls` and strict `bfcl`).

Cases are the 1,000 BFCL rows in ../shared/data/bfcl; predicted calls are built from the
gold (first acceptable value per parameter), and every third record is perturbed (a
string value changed, a number shifted, calls reversed) so both matching and failing
paths run. Records are reused across "epochs" until 100,000 calls are scored; each
epoch gets fresh record objects, the case objects (and so the compiled gold) are shared,
as in a real multi-epoch run.

Run: .venv/bin/python bench/toolcalls.py [--calls 100000]
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from nullband.records import Provenance, Record, ToolCall
from nullband.score.toolcalls import BfclScorer, ToolCallScorer
from nullband.score.toolcalls.parse import resolve_name, tool_schemas
from nullband.suite.case import Case
from nullband.suite.importers import import_bfcl_dir

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "bfcl"


def _first(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _first(a[0]) for k, a in v.items() if a and a[0] != ""}
    if isinstance(v, list):
        return [_first(x) for x in v]
    return v


def _perturb(args: dict[str, Any]) -> dict[str, Any]:
    out = dict(args)
    for k, v in out.items():
        if isinstance(v, str):
            out[k] = v + " x"
            break
        if isinstance(v, int | float) and not isinstance(v, bool):
            out[k] = v + 1
            break
    return out


def _calls(case: Case, i: int) -> list[ToolCall]:
    offered = tool_schemas(case.tools)
    calls = []
    for g in case.expected:
        ((name, params),) = g.items()
        args = {k: _first(a[0]) for k, a in params.items() if a and a[0] != ""}
        if i % 3 == 0:
            args = _perturb(args)
        calls.append(
            ToolCall(name=resolve_name(name, offered), arguments=orjson.dumps(args).decode())
        )
    return calls[::-1] if i % 2 else calls


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=100_000)
    opts = ap.parse_args()
    cases = import_bfcl_dir(DATA)
    now = datetime.now(UTC)
    prov = Provenance(requested="m")
    per_case = [_calls(c, i) for i, c in enumerate(cases)]
    calls_per_pass = sum(len(c) for c in per_case)
    passes = -(-opts.calls // calls_per_pass)
    records = [
        (
            c,
            Record.model_construct(
                run_id="b",
                case_id=c.id,
                case_hash="h",
                epoch=e,
                target="t",
                request_hash="r",
                status="ok",
                tool_calls=calls,
                provenance=prov,
                created_at=now,
                scores={},
                score_reasons={},
            ),
        )
        for e in range(passes)
        for c, calls in zip(cases, per_case, strict=True)
    ]
    n_calls = calls_per_pass * passes
    print(
        f"cpus available: {len(os.sched_getaffinity(0))}; cases: {len(cases)}; "
        f"records: {len(records)}; tool calls: {n_calls}"
    )
    for scorer in (ToolCallScorer(), BfclScorer(), BfclScorer(matching="greedy")):
        t0, c0 = time.perf_counter(), time.process_time()
        passed = sum(bool(scorer.score(c, r).passed) for c, r in records)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        label = scorer.name + (f" ({scorer.matching})" if isinstance(scorer, BfclScorer) else "")
        print(
            f"{label:18s} {n_calls} calls: wall {dt:6.2f} s, cpu {cpu:6.2f} s = "
            f"{n_calls / dt:7.0f} calls/s wall ({1e6 * cpu / n_calls:5.1f} us cpu/call); "
            f"passed {passed}/{len(records)} records"
        )


if __name__ == "__main__":
    main()
