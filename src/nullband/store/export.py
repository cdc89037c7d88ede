"""Exporting a stored run as a results file (DESIGN.md, "Results file").

One line (JSONL) or one row (parquet) per case and epoch of one target: case id and hash,
epoch, the case's segments, weight, adversarial flag and cluster, the scores, the model
block (requested, served, fingerprint) and the call's error. This is the interchange
format that ``nullband compare`` reads.

Parquet columns: ``segments`` is ``map<string, string>``, ``scores`` is
``map<string, double>`` and ``model`` a struct; :func:`read_results_parquet` reads such a
file back into :class:`~nullband.records.ResultRow` objects.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal

import orjson

from nullband.errors import StoreError, UsageError
from nullband.records import RESULTS_SCHEMA_VERSION, ModelInfo, ResultRow
from nullband.store.base import RunInfo, Store
from nullband.store.sql import SqlStore

ExportFormat = Literal["jsonl", "parquet"]

_HOT = ("case_hash", "status", "error", "requested_model", "served_model", "fingerprint", "scores")
_PARQUET_BATCH = 10_000


def run_targets(store: Store, run: RunInfo) -> list[str]:
    """Targets of a run: those of its config and any that have records, sorted."""
    names = set(run.targets)
    if isinstance(store, SqlStore):
        names |= set(store.record_targets(run.run_id))
    return sorted(names)


def resolve_target(store: Store, run_id: str, target: str | None) -> tuple[RunInfo, str]:
    """The run and the one target to export.

    Raises:
        StoreError: no such run.
        UsageError: the target is unknown, or missing while the run has several.
    """
    run = store.get_run(run_id)
    if run is None:
        raise StoreError(
            f"no run {run_id} in the store",
            run_id=run_id,
            hint="`nullband runs` lists the stored runs (use --store for another store)",
        )
    targets = run_targets(store, run)
    if target is None:
        if len(targets) == 1:
            return run, targets[0]
        raise UsageError(
            f"run {run_id} has {len(targets)} targets ({', '.join(targets) or 'none'}); "
            "say which to export",
            hint=f"add --target {targets[0] if targets else 'NAME'}",
        )
    if target not in targets:
        raise UsageError(
            f"run {run_id} has no target {target!r}; its targets are {', '.join(targets)}",
            hint="pass one of those with --target",
        )
    return run, target


def iter_result_rows(store: Store, run_id: str, target: str | None = None) -> Iterator[ResultRow]:
    """The results rows of one target of a run, ordered by case id and epoch.

    Args:
        store: an open store.
        run_id: the run.
        target: the target; may be left out when the run has exactly one.

    Raises:
        StoreError: no such run.
        UsageError: ``target`` is unknown, or missing while the run has several.

    Example:
        >>> rows = list(iter_result_rows(store, "01J...", "candidate"))  # doctest: +SKIP
    """
    run, name = resolve_target(store, run_id, target)
    meta = run.cases
    if isinstance(store, SqlStore):
        # Hot columns only: no record body is parsed.
        for row in store.iter_record_columns(run_id, _HOT, target=name):
            yield _row(
                meta.get(row.case_id, {}),
                case_id=row.case_id,
                epoch=int(row.epoch),
                case_hash=row.case_hash,
                scores=orjson.loads(row.scores),
                requested=row.requested_model,
                served=row.served_model,
                fingerprint=row.fingerprint,
                error=row.error if row.status == "error" else None,
            )
        return
    for rec in store.iter_records(run_id, name):
        yield _row(
            meta.get(rec.case_id, {}),
            case_id=rec.case_id,
            epoch=rec.epoch,
            case_hash=rec.case_hash,
            scores=rec.scores,
            requested=rec.provenance.requested,
            served=rec.provenance.served,
            fingerprint=rec.provenance.fingerprint,
            error=rec.error if rec.status == "error" else None,
        )


def _row(
    meta: dict[str, Any],
    *,
    case_id: str,
    epoch: int,
    case_hash: str,
    scores: dict[str, float | None],
    requested: str | None,
    served: str | None,
    fingerprint: str | None,
    error: str | None,
) -> ResultRow:
    return ResultRow(
        case_id=case_id,
        case_hash=case_hash,
        epoch=epoch,
        segments=meta.get("segments") or {},
        weight=meta.get("weight", 1.0),
        adversarial=meta.get("adversarial", False),
        cluster=meta.get("cluster"),
        scores=scores,
        model=ModelInfo(requested=requested, served=served, fingerprint=fingerprint),
        error=error,
    )


def export_results(
    store: Store,
    run_id: str,
    path_or_stream: str | Path | IO[bytes] | IO[str],
    target: str | None = None,
    fmt: ExportFormat = "jsonl",
) -> int:
    """Write the results file of one target of a run; returns the number of rows.

    A path is written atomically (a temporary file renamed into place), so a failed
    export never leaves half a file. Parquet needs a path or a binary stream.

    Raises:
        StoreError: no such run.
        UsageError: bad target or format (see :func:`iter_result_rows`).

    Example:
        >>> export_results(store, "01J...", "results.jsonl", target="candidate")  # doctest: +SKIP
        100
    """
    if fmt not in ("jsonl", "parquet"):
        raise UsageError(f"unknown export format {fmt!r}", hint="use jsonl or parquet")
    rows = iter_result_rows(store, run_id, target)
    first = next(rows, None)  # resolve run and target before creating any file
    full = rows if first is None else _chain(first, rows)
    if isinstance(path_or_stream, str | Path):
        path = Path(path_or_stream)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                n = _write(full, fh, fmt)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return n
    return _write(full, path_or_stream, fmt)


def _chain(first: ResultRow, rest: Iterator[ResultRow]) -> Iterator[ResultRow]:
    yield first
    yield from rest


def _write(rows: Iterator[ResultRow], out: IO[bytes] | IO[str], fmt: ExportFormat) -> int:
    if fmt == "parquet":
        if isinstance(out, io.TextIOBase):
            raise UsageError("parquet is binary: give --output FILE, not a terminal or text stream")
        return _write_parquet(rows, out)
    n = 0
    text = isinstance(out, io.TextIOBase)
    for row in rows:
        line = orjson.dumps(row.model_dump(mode="json")) + b"\n"
        out.write(line.decode() if text else line)  # type: ignore[arg-type]
        n += 1
    out.flush()
    return n


def _parquet_schema() -> Any:
    import pyarrow as pa

    return pa.schema(
        [
            ("schema_version", pa.int32()),
            ("case_id", pa.string()),
            ("case_hash", pa.string()),
            ("epoch", pa.int64()),
            ("segments", pa.map_(pa.string(), pa.string())),
            ("weight", pa.float64()),
            ("adversarial", pa.bool_()),
            ("cluster", pa.string()),
            ("scores", pa.map_(pa.string(), pa.float64())),
            (
                "model",
                pa.struct(
                    [
                        ("requested", pa.string()),
                        ("served", pa.string()),
                        ("fingerprint", pa.string()),
                    ]
                ),
            ),
            ("error", pa.string()),
        ]
    )


def _write_parquet(rows: Iterator[ResultRow], out: Any) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _parquet_schema()
    n = 0
    with pq.ParquetWriter(out, schema) as writer:
        batch: list[dict[str, Any]] = []
        for row in rows:
            d = row.model_dump(mode="json")
            d["segments"] = list(d["segments"].items())
            d["scores"] = list(d["scores"].items())
            batch.append(d)
            if len(batch) >= _PARQUET_BATCH:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                n += len(batch)
                batch = []
        if batch or n == 0:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            n += len(batch)
    return n


def read_results_parquet(path: str | Path) -> Iterator[ResultRow]:
    """Read a parquet results file written by :func:`export_results`.

    Raises:
        StoreError: the file is not a nullband results file of a known schema version.
    """
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    for batch in pf.iter_batches(batch_size=_PARQUET_BATCH):
        for d in batch.to_pylist():
            version = d.get("schema_version")
            if version != RESULTS_SCHEMA_VERSION:
                raise StoreError(
                    f"{path}: results schema_version {version!r}, this nullband reads "
                    f"{RESULTS_SCHEMA_VERSION}"
                )
            d["segments"] = dict(d["segments"] or [])
            d["scores"] = dict(d["scores"] or [])
            yield ResultRow.model_validate(d)
