"""The multi-process audit engine for generic JSONL (the normalised format) on disk.

The file is cut into byte ranges at line boundaries; worker processes parse their ranges
with orjson and run the same per-step function as the in-process engine
(:func:`nullband.traces.audit.step_facts`), returning only the compact facts. The parent
computes the class medians with numpy and runs the shared per-trace function on the
traces that can carry a flag (:mod:`nullband.traces.fastreduce`). Memory
holds the facts (about 200 bytes a step), never the messages.
"""

from __future__ import annotations

import gc
import itertools
import multiprocessing as mp
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from nullband.errors import InputError
from nullband.traces.audit import AuditContext, StepFacts, step_facts
from nullband.traces.audit_models import AuditConfig, AuditReport
from nullband.traces.fastreduce import reduce_columns

_CTX: AuditContext | None = None
_PATH: str = ""


def _init(path: str, config_json: bytes) -> None:
    global _CTX, _PATH
    _CTX = AuditContext(AuditConfig.model_validate_json(config_json))
    _PATH = path
    gc.disable()  # the facts are acyclic; collection only costs time here


def _chunk(job: tuple[int, int, int]) -> list[tuple[Any, ...]]:
    start, end, first_idx = job
    assert _CTX is not None
    out: list[StepFacts] = []
    loads = orjson.loads
    ctx = _CTX
    with open(_PATH, "rb") as fh:
        fh.seek(start)
        data = fh.read(end - start)
    idx = first_idx
    pos = 0
    n = len(data)
    while pos < n:
        nl = data.find(b"\n", pos)
        if nl < 0:
            nl = n
        line = data[pos:nl]
        pos = nl + 1
        if not line.strip():
            continue
        try:
            d = loads(line)
        except orjson.JSONDecodeError as exc:
            raise InputError(
                f"line is not valid JSON ({exc}) at byte {start + pos - len(line) - 1}",
                path=_PATH,
            ) from None
        if not isinstance(d, dict) or not d.get("trace_id") or not d.get("step_id"):
            raise InputError(
                f"line at byte {start + pos - len(line) - 1} is not a step with trace_id and step_id",
                path=_PATH,
                hint="the fast engine reads generic JSONL; see `nullband traces schema`",
            )
        out.append(step_facts(d, idx, ctx))
        idx += 1
    # columns of plain values pickle several times faster than named tuples
    return list(zip(*out, strict=True)) if out else []


def _cuts(path: Path, n_chunks: int) -> list[tuple[int, int, int]]:
    """Byte ranges ending at line ends; the third item orders steps across chunks."""
    size = path.stat().st_size
    bounds = [0]
    with path.open("rb") as fh:
        for i in range(1, n_chunks):
            fh.seek(max(bounds[-1], size * i // n_chunks))
            fh.readline()
            pos = fh.tell()
            if pos >= size:
                break
            if pos > bounds[-1]:
                bounds.append(pos)
    bounds.append(size)
    # chunk i's step indexes start at i * 2**40: input order without counting lines first
    return [(a, b, i << 40) for i, (a, b) in enumerate(itertools.pairwise(bounds))]


def audit_file_fast(
    path: str | Path,
    config: AuditConfig | None = None,
    *,
    processes: int | None = None,
    chunk_mb: int = 32,
) -> AuditReport:
    """Audit a generic JSONL file with ``processes`` worker processes (default: all CPUs).

    Gives the same report as :func:`nullband.traces.audit.audit_traces` on the same steps.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError("trace file not found", path=p)
    if p.suffix == ".gz":
        raise InputError("the fast engine reads plain JSONL", path=p, hint="use --engine python")
    cfg = config or AuditConfig()
    n_proc = processes or os.cpu_count() or 1
    n_chunks = max(n_proc, p.stat().st_size // (chunk_mb << 20) + 1)
    jobs = _cuts(p, n_chunks)
    cols: list[list[Any]] = [[] for _ in StepFacts._fields]
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for chunk in _run(jobs, str(p), cfg, n_proc):
            for col, part in zip(cols, chunk, strict=False):
                col.extend(part)
        return reduce_columns(cols, cfg)
    finally:
        if was_enabled:
            gc.enable()


def _run(
    jobs: list[tuple[int, int, int]], path: str, cfg: AuditConfig, n_proc: int
) -> Iterator[list[tuple[Any, ...]]]:
    cfg_json = cfg.model_dump_json().encode()
    if n_proc == 1:
        _init(path, cfg_json)
        for job in jobs:
            yield _chunk(job)
        return
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    with mp.get_context(method).Pool(n_proc, initializer=_init, initargs=(path, cfg_json)) as pool:
        yield from pool.imap(_chunk, jobs)
