"""Ingest: read trace files of any supported format into :class:`~nullband.traces.schema.Step`.

Formats: ``otel`` (OTLP JSON), ``litellm`` (spend logs), ``bifrost`` (log rows) and
``generic`` (one Step per JSON line). Every reader is a generator, so files larger than
memory stream through; :func:`iter_traces` groups steps into traces, spilling to hashed
partition files on disk when more steps are pending than ``max_in_memory``.
"""

from __future__ import annotations

import tempfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

import orjson
from pydantic import ValidationError

from nullband.errors import InputError
from nullband.traces.ingest._io import iter_json_lines, open_binary
from nullband.traces.ingest.gateways import iter_bifrost, iter_litellm
from nullband.traces.ingest.otel import iter_otel
from nullband.traces.schema import Step, Trace

TraceFormat = Literal["auto", "otel", "litellm", "bifrost", "generic"]
FORMATS: tuple[str, ...] = ("auto", "otel", "litellm", "bifrost", "generic")


def iter_generic(path: Path) -> Iterator[Step]:
    """Steps of a generic JSONL file (one :class:`Step` per line).

    Raises:
        InputError: a line is not JSON or not a valid step (names file, line and field).
    """
    for lineno, obj in iter_json_lines(path):
        obj.setdefault("source_ref", f"{path}:{lineno}")
        yield validate_step(obj, path, lineno)


def validate_step(obj: dict[str, object], path: Path, lineno: int) -> Step:
    """One generic JSONL object as a Step, or an InputError naming file, line and field."""
    try:
        return Step.model_validate(obj)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "(step)"
        hint = (
            "see `nullband traces schema` for the fields of a step"
            if err["type"] == "extra_forbidden"
            else None
        )
        raise InputError(err["msg"], path=path, line=lineno, field=field, hint=hint) from None


def detect_format(path: str | Path) -> str:
    """Guess the format of a trace file from its first record.

    Raises:
        InputError: the format cannot be recognised.
    """
    p = Path(path)
    name = p.name.removesuffix(".gz")
    with open_binary(p) as fh:
        head = fh.read(65536)
    if name.endswith(".csv"):
        first = head.split(b"\n", 1)[0].decode("utf-8", "replace")
        if "request_id" in first and "spend" in first:
            return "litellm"
        if "fallback_index" in first or "number_of_retries" in first:
            return "bifrost"
        raise InputError(
            "cannot tell which gateway this CSV comes from", path=p, hint="pass --format"
        )
    if b"resourceSpans" in head:
        return "otel"
    line = head.split(b"\n", 1)[0]
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        obj = None
    if isinstance(obj, list) and obj:
        obj = obj[0]
    if isinstance(obj, dict):
        if "trace_id" in obj and "step_id" in obj:
            return "generic"
        if "request_id" in obj and ("spend" in obj or "model_group" in obj):
            return "litellm"
        if "fallback_index" in obj or "number_of_retries" in obj or "input_history" in obj:
            return "bifrost"
    raise InputError(
        "cannot recognise the trace format from the first record",
        path=p,
        hint="pass --format otel|litellm|bifrost|generic",
    )


def iter_steps(path: str | Path, fmt: TraceFormat | str = "auto") -> Iterator[Step]:
    """Stream the steps of one trace file.

    Args:
        path: the file (``.gz`` is decompressed on the fly).
        fmt: one of :data:`FORMATS`; ``auto`` looks at the first record.

    Example:
        >>> for step in iter_steps("spans.jsonl"):  # doctest: +SKIP
        ...     print(step.trace_id, step.model_served)
    """
    p = Path(path)
    kind = detect_format(p) if fmt == "auto" else fmt
    readers = {
        "otel": iter_otel,
        "litellm": iter_litellm,
        "bifrost": iter_bifrost,
        "generic": iter_generic,
    }
    if kind not in readers:
        raise InputError(f"unknown trace format {kind!r}", hint=f"use one of {', '.join(FORMATS)}")
    return readers[kind](p)


def _partition_key(trace_id: str, n: int) -> int:
    return zlib.crc32(trace_id.encode()) % n


def iter_traces(
    steps: Iterable[Step],
    *,
    max_in_memory: int = 50_000,
    partitions: int = 64,
    spill_dir: str | Path | None = None,
) -> Iterator[Trace]:
    """Group a stream of steps into traces.

    Steps are held in memory until more than ``max_in_memory`` are pending; then every
    step goes to one of ``partitions`` files by a hash of its trace id, and each partition
    is grouped in turn, so memory stays bounded by one partition. Traces come out in
    first-seen order when nothing spilled, else partition by partition.
    """
    pending: dict[str, list[Step]] = {}
    it = iter(steps)
    for count, step in enumerate(it, start=1):
        pending.setdefault(step.trace_id, []).append(step)
        if count > max_in_memory:
            yield from _spill(pending, it, partitions, spill_dir)
            return
    for group in pending.values():
        yield Trace.from_steps(group)


def _spill(
    pending: dict[str, list[Step]],
    rest: Iterator[Step],
    partitions: int,
    spill_dir: str | Path | None,
) -> Iterator[Trace]:
    with tempfile.TemporaryDirectory(prefix="nullband-traces-", dir=spill_dir) as tmp:
        files = [Path(tmp, f"part-{i:03d}.jsonl").open("wb") for i in range(partitions)]  # noqa: SIM115
        try:
            for group in pending.values():
                for s in group:
                    files[_partition_key(s.trace_id, partitions)].write(
                        s.model_dump_json().encode() + b"\n"
                    )
            pending.clear()
            for s in rest:
                files[_partition_key(s.trace_id, partitions)].write(
                    s.model_dump_json().encode() + b"\n"
                )
        finally:
            for f in files:
                f.close()
        for i in range(partitions):
            groups: dict[str, list[Step]] = {}
            with Path(tmp, f"part-{i:03d}.jsonl").open("rb") as fh:
                for raw in fh:
                    s = Step.model_validate_json(raw)
                    groups.setdefault(s.trace_id, []).append(s)
            for group in groups.values():
                yield Trace.from_steps(group)


def read_traces(
    path: str | Path, fmt: TraceFormat | str = "auto", *, max_in_memory: int = 50_000
) -> Iterator[Trace]:
    """:func:`iter_steps` then :func:`iter_traces`."""
    return iter_traces(iter_steps(path, fmt), max_in_memory=max_in_memory)


def write_steps(steps: Iterable[Step], out: str | Path) -> int:
    """Write steps as generic JSONL (the normalised format); returns how many."""
    n = 0
    with Path(out).open("wb") as fh:
        for s in steps:
            fh.write(s.model_dump_json(exclude_defaults=True).encode() + b"\n")
            n += 1
    return n


__all__ = [
    "FORMATS",
    "TraceFormat",
    "detect_format",
    "iter_generic",
    "iter_steps",
    "iter_traces",
    "read_traces",
    "validate_step",
    "write_steps",
]
