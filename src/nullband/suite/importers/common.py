"""Helpers shared by the importers."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel

from nullband.errors import InputError


def write_jsonl(items: Iterable[BaseModel], path: str | Path) -> int:
    """Write models as JSON lines (nulls and defaults left out); returns the count."""
    n = 0
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("wb") as fh:
        for item in items:
            fh.write(orjson.dumps(item.model_dump(mode="json", exclude_none=True)) + b"\n")
            n += 1
    return n


write_suite = write_jsonl


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSON-lines file of objects; errors name the file and line."""
    p = Path(path)
    if not p.is_file():
        raise InputError("file not found", path=p)
    rows: list[dict[str, Any]] = []
    with p.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise InputError(f"line is not valid JSON ({exc})", path=p, line=lineno) from None
            if not isinstance(obj, dict):
                raise InputError("expected a JSON object", path=p, line=lineno)
            rows.append(obj)
    return rows
