"""Reading input files as streams of JSON objects, with file and line for every error."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from nullband.errors import InputError


def open_binary(path: Path) -> IO[bytes]:
    """Open ``path`` for reading bytes; ``.gz`` files are decompressed on the fly."""
    if not path.is_file():
        raise InputError("trace file not found", path=path, hint="check the path")
    if path.suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def iter_json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for each non-blank line of a JSONL file.

    Raises:
        InputError: a line is not JSON or not an object (names the file and line).
    """
    with open_binary(path) as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.strip()
            if not line:
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise InputError(
                    f"line is not valid JSON ({exc})",
                    path=path,
                    line=lineno,
                    hint="each line must be one JSON object",
                ) from None
            if not isinstance(obj, dict):
                raise InputError(
                    f"expected a JSON object, got {type(obj).__name__}", path=path, line=lineno
                )
            yield lineno, obj


def iter_csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, row)`` of a CSV table export (header row first).

    Cells that hold JSON (objects, arrays) are parsed; empty cells become None.
    """
    with open_binary(path) as fh:
        text = io.TextIOWrapper(fh, encoding="utf-8", newline="")
        reader = csv.DictReader(text)
        for row in reader:
            out: dict[str, Any] = {}
            for key, cell in row.items():
                if key is None:
                    continue
                out[key] = _cell(cell)
            yield reader.line_num, out


def _cell(cell: str | None) -> Any:
    if cell is None or cell == "":
        return None
    if cell[:1] in "[{":
        try:
            return orjson.loads(cell)
        except orjson.JSONDecodeError:
            return cell
    return cell


def iter_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows of a table export: CSV when the name ends in .csv(.gz), else JSONL.

    A file holding one JSON array of rows is also accepted (read whole).
    """
    name = path.name.removesuffix(".gz")
    if name.endswith(".csv"):
        yield from iter_csv_rows(path)
        return
    with open_binary(path) as fh:
        head = fh.read(1).lstrip()
    if head == b"[":
        with open_binary(path) as fh:
            data = orjson.loads(fh.read())
        for i, row in enumerate(data, start=1):
            if isinstance(row, dict):
                yield i, row
        return
    yield from iter_json_lines(path)


def maybe_json(value: Any) -> Any:
    """Parse ``value`` when it is a string holding a JSON object or array."""
    if isinstance(value, str | bytes) and value[:1] in ("{", "[", b"{", b"["):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value
