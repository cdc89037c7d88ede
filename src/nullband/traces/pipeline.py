"""File-level entry points that the CLI uses: audit a file, load audit inputs, keep traces."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import ValidationError

from nullband.config import load_yaml_model
from nullband.errors import InputError
from nullband.traces.audit import audit_traces
from nullband.traces.audit_models import AuditConfig, AuditReport
from nullband.traces.fastaudit import audit_file_fast
from nullband.traces.ingest import detect_format, iter_traces, read_traces
from nullband.traces.ingest import validate_step as _validate_step
from nullband.traces.ingest._io import iter_json_lines
from nullband.traces.schema import Step, Trace

Engine = Literal["auto", "python", "fast"]
FAST_MIN_BYTES = 64 << 20


def audit_file(
    path: str | Path,
    config: AuditConfig | None = None,
    *,
    fmt: str = "auto",
    engine: Engine = "auto",
    processes: int | None = None,
) -> AuditReport:
    """Audit one trace file.

    ``engine="auto"`` uses the multi-process engine for plain generic JSONL files of at
    least 64 MiB and the in-process engine otherwise; both give the same report.
    """
    p = Path(path)
    kind = detect_format(p) if fmt == "auto" else fmt
    use_fast = engine == "fast" or (
        engine == "auto"
        and kind == "generic"
        and p.suffix != ".gz"
        and p.stat().st_size >= FAST_MIN_BYTES
    )
    if use_fast:
        if kind != "generic":
            raise InputError(
                f"the fast engine reads generic JSONL, this file is {kind}",
                path=p,
                hint="convert it first with `nullband traces ingest`, or use --engine python",
            )
        return audit_file_fast(p, config, processes=processes)
    return audit_traces(read_traces(p, kind), config)


def load_audit_config(
    config_path: str | Path | None = None,
    *,
    tools_path: str | Path | None = None,
    result_schemas_path: str | Path | None = None,
    ground_truth_path: str | Path | None = None,
    timing_factor: float | None = None,
    pinned: dict[str, str] | None = None,
) -> AuditConfig:
    """An AuditConfig from a YAML file plus the CLI's file options (which take precedence).

    ``tools_path``: JSON list of OpenAI tool definitions, or ``{name: parameters schema}``.
    ``result_schemas_path``: JSON ``{tool name: result schema}``.
    ``ground_truth_path``: JSONL of ``{"step_id" or "tool_call_id", "result"}``.
    """
    cfg = load_yaml_model(config_path, AuditConfig) if config_path else AuditConfig()
    files: dict[str, str | Path | None] = {
        "tool_schemas": tools_path,
        "result_schemas": result_schemas_path,
        "ground_truth": ground_truth_path,
    }
    update: dict[str, Any] = {}
    if tools_path:
        data = _read_json(tools_path)
        if isinstance(data, list):
            data = {
                t["function"]["name"]: t["function"].get("parameters", {})
                for t in data
                if isinstance(t, dict) and isinstance(t.get("function"), dict)
            }
        if not isinstance(data, dict):
            raise InputError(
                "expected a list of tool definitions or {name: schema}", path=tools_path
            )
        update["tool_schemas"] = {**cfg.tool_schemas, **data}
    if result_schemas_path:
        data = _read_json(result_schemas_path)
        if not isinstance(data, dict):
            raise InputError("expected {tool name: JSON Schema}", path=result_schemas_path)
        update["result_schemas"] = {**cfg.result_schemas, **data}
    if ground_truth_path:
        gt = dict(cfg.ground_truth)
        p = Path(ground_truth_path)
        for line, row in iter_json_lines(p):
            key = row.get("step_id") or row.get("tool_call_id")
            if key is None or "result" not in row:
                raise InputError(
                    "expected {'step_id' or 'tool_call_id', 'result'}", path=p, line=line
                )
            gt[str(key)] = row["result"]
        update["ground_truth"] = gt
    if timing_factor is not None:
        update["timing_factor"] = timing_factor
    if pinned:
        update["pinned"] = {**cfg.pinned, **pinned}
    if not update:
        return cfg
    try:
        return AuditConfig.model_validate({**cfg.model_dump(), **update})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"]]
        raise InputError(
            err["msg"], path=files.get(loc[0] if loc else ""), field=".".join(loc[1:]) or None
        ) from None


def _read_json(path: str | Path) -> Any:
    p = Path(path)
    try:
        return orjson.loads(p.read_bytes())
    except FileNotFoundError:
        raise InputError("file not found", path=p) from None
    except orjson.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc})", path=p) from None


def select_traces(path: str | Path, ids: set[str], fmt: str = "auto") -> Iterator[Trace]:
    """Stream the traces of ``path`` whose id is in ``ids`` (a second pass over the file).

    For generic JSONL, lines of other traces are skipped before any validation.
    """
    kind = detect_format(path) if fmt == "auto" else fmt
    if kind != "generic":
        for trace in read_traces(path, kind):
            if trace.trace_id in ids:
                yield trace
        return
    p = Path(path)

    def wanted() -> Iterator[Step]:
        for lineno, obj in iter_json_lines(p):
            if obj.get("trace_id") in ids:
                obj.setdefault("source_ref", f"{p}:{lineno}")
                yield _validate_step(obj, p, lineno)

    yield from iter_traces(wanted())
