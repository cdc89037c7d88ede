"""The multi-process audit engine for generic JSONL (the normalised format) on disk.

The file is cut into byte ranges at line boundaries; worker processes decode their
ranges with msgspec into only the fields the audit reads and screen each row for flags
(:mod:`nullband.traces.msgaudit`); rows that may carry a flag go through the same
per-step function as the in-process engine (:func:`nullband.traces.audit.step_facts`).
Workers send back compact facts (numpy arrays plus the chunk's unique trace ids and
timing keys); the parent merges them as they arrive and computes the class medians and
verdicts (:mod:`nullband.traces.fastreduce`), running the shared per-trace function on
the traces that can carry a flag. Memory holds the facts (about 100 bytes a step),
never the messages.
"""

from __future__ import annotations

import gc
import itertools
import mmap
import multiprocessing as mp
import os
import pickle
import shutil
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path

from nullband.errors import InputError
from nullband.traces.audit import AuditContext
from nullband.traces.audit_models import AuditConfig, AuditReport
from nullband.traces.fastreduce import Reducer
from nullband.traces.msgaudit import ChunkAuditor, ChunkFacts
from nullband.traces.msgwire import WireChunk, encode
from nullband.traces.native import NativeChunkAuditor, make_auditor, native_available

_AUDITOR: ChunkAuditor | None = None
_PATH: str = ""
_OUT: str = ""
"""A directory (in memory where the system has one) that workers hand their facts over in."""


def _init(path: str, config_json: bytes, native: bool, out: str = "") -> None:
    global _AUDITOR, _PATH, _OUT
    ctx = AuditContext(AuditConfig.model_validate_json(config_json))
    _AUDITOR = make_auditor(ctx, native)
    _PATH = path
    _OUT = out
    gc.disable()  # the facts are acyclic; collection only costs time here


def _chunk(job: tuple[int, int, int]) -> ChunkFacts:
    start, end, first_idx = job
    auditor = _AUDITOR
    assert auditor is not None
    with open(_PATH, "rb") as fh:
        if not isinstance(auditor, NativeChunkAuditor) or end == start:
            fh.seek(start)
            return auditor.run(fh.read(end - start), start, first_idx, _PATH)
        # the scanner reads the page cache in place (a read() copy costs more than the
        # page faults); one map per chunk, so resident memory stays one chunk's
        base = start - start % mmap.ALLOCATIONGRANULARITY
        with mmap.mmap(fh.fileno(), end - base, offset=base, access=mmap.ACCESS_READ) as m:
            view = memoryview(m)[start - base :]
            try:
                return auditor.run(view, start, first_idx, _PATH)
            finally:
                view.release()


def _cuts(path: Path, n_chunks: int, tail: int = 0) -> list[tuple[int, int, int]]:
    """Byte ranges ending at line ends; the third item orders steps across chunks.

    ``tail``: the last chunk's bytes are cut into that many smaller chunks instead, so
    the workers finish close together (the last chunk a worker takes is small).
    """
    size = path.stat().st_size
    targets = [size * i // n_chunks for i in range(1, n_chunks)]
    if tail > 1 and n_chunks > 1:
        last = targets[-1]
        targets += [last + (size - last) * j // tail for j in range(1, tail)]
    bounds = [0]
    with path.open("rb") as fh:
        for target in targets:
            fh.seek(max(bounds[-1], target))
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
    chunk_mb: int = 16,
    native: bool | None = None,
) -> AuditReport:
    """Audit a generic JSONL file with ``processes`` worker processes (default: all CPUs).

    Gives the same report as :func:`nullband.traces.audit.audit_traces` on the same steps.
    ``native``: use the C scanner (:mod:`nullband.traces.native`); None: when it is built.

    Raises:
        InputError: the file is missing, compressed, or has a line that is not a valid
            step (the message names the line, its byte offset and the field).
    """
    p = Path(path)
    if not p.is_file():
        raise InputError("trace file not found", path=p)
    if p.suffix == ".gz":
        raise InputError("the fast engine reads plain JSONL", path=p, hint="use --engine python")
    cfg = config or AuditConfig()
    n_proc = processes or os.cpu_count() or 1
    n_chunks = max(n_proc, p.stat().st_size // (chunk_mb << 20) + 1)
    jobs = _cuts(p, n_chunks, 2 * n_proc if n_proc > 1 else 0)
    if native is None:
        native = native_available()
    reducer = Reducer(cfg)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for chunk in _run(jobs, str(p), cfg, n_proc, native):
            reducer.add(chunk)
        return reducer.report()
    finally:
        if was_enabled:
            gc.enable()


def _run(
    jobs: list[tuple[int, int, int]], path: str, cfg: AuditConfig, n_proc: int, native: bool
) -> Iterator[ChunkFacts | WireChunk]:
    cfg_json = cfg.model_dump_json().encode()
    if n_proc == 1:
        _init(path, cfg_json, native)
        for job in jobs:
            yield _chunk(job)
        return
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    out = tempfile.mkdtemp(prefix="nullband-audit-", dir=shm)
    try:
        with mp.get_context(method).Pool(
            n_proc, initializer=_init, initargs=(path, cfg_json, native, out)
        ) as pool:
            for got in pool.imap(_chunk_blob, jobs):
                if isinstance(got, str):
                    try:
                        yield _load_handover(got)
                    finally:
                        os.unlink(got)
                else:
                    yield pickle.loads(got)
    finally:
        shutil.rmtree(out, ignore_errors=True)


_ALIGN = 64
"""Arrays in a hand-over file start at multiples of this (numpy reads them in place)."""


def _chunk_blob(job: tuple[int, int, int]) -> bytes | str:
    """A chunk's facts in their wire form (:mod:`nullband.traces.msgwire`), in a file of
    the hand-over directory when it can be written, else pickled as bytes.

    The file holds the pickle (protocol 5) with the arrays' data out of band after it
    (:func:`_load_handover` reads it once and the arrays stay where they were read, not
    copied again); the pool's pipe would read a large message in many reads that each
    allocate its full size.
    """
    facts = encode(_chunk(job))
    buffers: list[pickle.PickleBuffer] = []
    head = pickle.dumps(facts, protocol=5, buffer_callback=buffers.append)
    name = os.path.join(_OUT, f"{job[0]}.pickle")
    views = [b.raw() for b in buffers]
    lengths = [len(head), *(v.nbytes for v in views)]
    header = struct.pack(f"<{len(lengths) + 1}q", len(lengths), *lengths)
    try:
        with open(name, "wb") as fh:
            pos = fh.write(header) + fh.write(head)
            for v in views:
                pos += fh.write(bytes(-pos % _ALIGN)) + fh.write(v)
    except OSError:
        return pickle.dumps(facts, protocol=5)
    return name


def _load_handover(name: str) -> WireChunk:
    """The facts of a hand-over file written by :func:`_chunk_blob`: the file is read
    once and the arrays point into that copy (no second copy; a map of the file would
    hold a file descriptor per chunk for as long as the report lives)."""
    with open(name, "rb") as fh:
        view = memoryview(fh.read())
    (n,) = struct.unpack_from("<q", view)
    lengths = struct.unpack_from(f"<{n}q", view, 8)
    pos = 8 * (n + 1)
    head = view[pos : pos + lengths[0]]
    pos += lengths[0]
    buffers = []
    for size in lengths[1:]:
        pos += -pos % _ALIGN
        buffers.append(view[pos : pos + size])
        pos += size
    facts: WireChunk = pickle.loads(head, buffers=buffers)
    return facts
