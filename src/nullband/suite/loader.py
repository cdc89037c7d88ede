"""Loading suites: JSONL files of cases, with errors that name the file, line and field."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
from pydantic import ValidationError

from nullband.errors import SuiteError
from nullband.suite.case import Case


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) if loc else "(case)"


def iter_cases(path: str | Path) -> Iterator[Case]:
    """Yield the cases of one JSONL suite file, in file order.

    Blank lines and lines starting with ``//`` are skipped.

    Raises:
        SuiteError: the file is missing, a line is not JSON, a case is invalid, or a case
            id repeats; the message names the file, the line and the field.
    """
    p = Path(path)
    if not p.is_file():
        raise SuiteError(
            "suite file not found", path=p, hint="check the 'suite' path in the config"
        )
    seen: dict[str, int] = {}
    with p.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.strip()
            if not line or line.startswith(b"//"):
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise SuiteError(
                    f"line is not valid JSON ({exc})",
                    path=p,
                    line=lineno,
                    hint="each line of a suite is one JSON object",
                ) from None
            if not isinstance(obj, dict):
                raise SuiteError(
                    f"expected a JSON object, got {type(obj).__name__}", path=p, line=lineno
                )
            try:
                case = Case.model_validate(obj)
            except ValidationError as exc:
                err = exc.errors()[0]
                field = _field_path(tuple(err["loc"]))
                msg = err["msg"]
                if err["type"] == "extra_forbidden":
                    msg = "unknown field"
                    allowed = ", ".join(sorted(Case.model_fields))
                    raise SuiteError(
                        msg, path=p, line=lineno, field=field, hint=f"allowed fields: {allowed}"
                    ) from None
                raise SuiteError(msg, path=p, line=lineno, field=field) from None
            if case.id in seen:
                raise SuiteError(
                    f"duplicate case id {case.id!r} (first seen on line {seen[case.id]})",
                    path=p,
                    line=lineno,
                    field="id",
                    hint="case ids must be unique within a suite",
                )
            seen[case.id] = lineno
            yield case


def load_cases(path: str | Path) -> list[Case]:
    """All cases of one JSONL suite file. See :func:`iter_cases` for the errors."""
    return list(iter_cases(path))
