"""Run directories: ``requests.jsonl`` (one RequestRecord per line) + ``summary.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from nullband.errors import InputError
from nullband.load.records import RequestRecord
from nullband.load.summary import LoadSummary

REQUESTS_FILE = "requests.jsonl"
SUMMARY_FILE = "summary.json"
SCRAPES_FILE = "server_metrics.jsonl"


def write_run(
    out_dir: str | Path,
    summary: LoadSummary,
    records: list[RequestRecord],
    scrapes: list[dict[str, Any]] | None = None,
) -> Path:
    """Write a run directory; returns its path. Files are written whole, then renamed.

    ``scrapes`` (server /metrics samples before, during and after) go to
    ``server_metrics.jsonl`` when given.
    """
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    if scrapes:
        tmp = d / (SCRAPES_FILE + ".tmp")
        tmp.write_bytes(b"".join(orjson.dumps(s) + b"\n" for s in scrapes))
        tmp.replace(d / SCRAPES_FILE)
    tmp = d / (REQUESTS_FILE + ".tmp")
    with tmp.open("wb") as fh:
        for r in records:
            fh.write(orjson.dumps(r.model_dump(mode="json")) + b"\n")
    tmp.replace(d / REQUESTS_FILE)
    tmp = d / (SUMMARY_FILE + ".tmp")
    tmp.write_bytes(orjson.dumps(summary.model_dump(mode="json"), option=orjson.OPT_INDENT_2))
    tmp.replace(d / SUMMARY_FILE)
    return d


def read_summary(run_dir: str | Path) -> LoadSummary:
    """Read ``summary.json`` of a run directory.

    Raises:
        InputError: the file is missing or not a load summary.
    """
    p = Path(run_dir) / SUMMARY_FILE
    try:
        data = orjson.loads(p.read_bytes())
    except FileNotFoundError:
        raise InputError(
            "no summary.json here", path=p, hint="pass the --out directory of `nullband load run`"
        ) from None
    except orjson.JSONDecodeError as exc:
        raise InputError(f"not JSON: {exc}", path=p) from None
    try:
        return LoadSummary.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InputError(err["msg"], path=p, field=".".join(str(x) for x in err["loc"])) from None


def read_records(run_dir: str | Path) -> list[RequestRecord]:
    """Read ``requests.jsonl`` of a run directory.

    Raises:
        InputError: a line is not a request record (names the line).
    """
    p = Path(run_dir) / REQUESTS_FILE
    try:
        lines = p.read_bytes().splitlines()
    except FileNotFoundError:
        raise InputError("no requests.jsonl here", path=p) from None
    out = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            out.append(RequestRecord.model_validate(orjson.loads(line)))
        except (orjson.JSONDecodeError, ValidationError) as exc:
            raise InputError(f"not a request record: {str(exc)[:200]}", path=p, line=n) from None
    return out
