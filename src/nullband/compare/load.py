"""Reading one side of a comparison: a results file (JSONL or parquet) or a stored run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from nullband.errors import CompareError, StoreError
from nullband.records import RESULTS_SCHEMA_VERSION, ResultRow
from nullband.store.base import Store


def _read_jsonl(path: Path) -> list[ResultRow]:
    rows: list[ResultRow] = []
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise CompareError(f"cannot read results file: {exc.strerror}", path=path) from None
    with fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.strip()
            if not line:
                continue
            # Fast path: pydantic parses and validates the JSON in one pass (about twice
            # as fast as orjson.loads + model_validate); any failure falls through to the
            # step-by-step path below, which words the error.
            try:
                row = ResultRow.model_validate_json(line)
            except ValidationError:
                pass
            else:
                if row.schema_version == RESULTS_SCHEMA_VERSION:
                    rows.append(row)
                    continue
            try:
                data = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise CompareError(
                    f"not valid JSON: {exc}",
                    path=path,
                    line=lineno,
                    hint="a results file has one JSON object per line (`nullband export`)",
                ) from None
            if not isinstance(data, dict):
                raise CompareError(
                    f"expected a JSON object, got {type(data).__name__}", path=path, line=lineno
                )
            version = data.get("schema_version", RESULTS_SCHEMA_VERSION)
            if version != RESULTS_SCHEMA_VERSION:
                raise CompareError(
                    f"results schema_version {version!r}; this nullband reads "
                    f"{RESULTS_SCHEMA_VERSION}",
                    path=path,
                    line=lineno,
                )
            try:
                rows.append(ResultRow.model_validate(data))
            except ValidationError as exc:
                err = exc.errors()[0]
                field = ".".join(str(p) for p in err["loc"]) or None
                raise CompareError(err["msg"], path=path, line=lineno, field=field) from None
    return rows


def read_results_file(path: str | Path) -> list[ResultRow]:
    """Rows of a results file: JSONL (one :class:`ResultRow` per line) or parquet.

    Raises:
        CompareError: unreadable file, bad JSON or a row that does not fit (file and line).
    """
    p = Path(path)
    if p.suffix.lower() in (".parquet", ".pq"):
        from nullband.store.export import read_results_parquet

        try:
            return list(read_results_parquet(p))
        except StoreError as exc:
            raise CompareError(exc.message, path=p) from None
        except (OSError, ValueError) as exc:
            raise CompareError(f"cannot read parquet results: {exc}", path=p) from None
    return _read_jsonl(p)


def load_results(
    source: str | Path,
    *,
    target: str | None = None,
    store: Store | str | None = None,
) -> list[ResultRow]:
    """One side of a comparison: a results file, or a run id in a store.

    Args:
        source: a path to a results file (``.jsonl`` or ``.parquet``), or a run id.
        target: the target of a stored run (needed when the run has several).
        store: an open store or its URL/path; by default ``$NULLBAND_STORE`` or
            ``.nullband/runs.db`` when ``source`` is not a file.

    Raises:
        CompareError: the file is unreadable or malformed, or ``source`` is neither a file
            nor a run in the store.

    Example:
        >>> rows = load_results("baseline.jsonl")  # doctest: +SKIP
    """
    p = Path(source)
    if p.is_file():
        return read_results_file(p)
    from nullband.store import default_store_url, open_store
    from nullband.store.export import iter_result_rows

    opened: Any = None
    if store is None:
        url = default_store_url()
        if "://" not in url and not Path(url).is_file():
            raise CompareError(
                f"{source}: no such results file, and no store to look it up as a run id "
                f"({url} does not exist)",
                hint="pass a results file (`nullband export`), or --store URL for run ids",
            )
        opened = open_store(url)
        st: Store = opened
    elif isinstance(store, str):
        opened = open_store(store)
        st = opened
    else:
        st = store
    try:
        return list(iter_result_rows(st, str(source), target))
    finally:
        if opened is not None:
            opened.close()
