"""The columnar audit engine for generic JSONL files on disk (polars).

The file is read in line-aligned byte blocks; polars parses each block into columns of
only the fields the rules read (a schema is given, so nothing else is built). The rules
run as vectorised expressions and find the rows that *may* carry a flag: a fallback,
retries, a possible model mismatch, a cache hit, an error, a tool call or tool step
whose arguments or result a compiled check (:mod:`nullband.traces.columnar_schema`)
cannot accept, a step with recorded ground truth. Only those rows are parsed again with
orjson and go through the reference per-step function
(:func:`nullband.traces.audit.step_facts`); every other row has no flag by construction.
The class medians are numpy medians (as in :mod:`nullband.traces.fastreduce`), and the
shared per-trace function (:func:`~nullband.traces.audit.finalize`) runs on the traces
that can carry a flag. So the report is the reference engine's, row for row.

Memory holds compact columns of every step (ids, start time, class, kind, label,
duration, three booleans) and one block of the file per worker thread (peak 0.98 GB on
the 1,000,000-span benchmark). On the benchmark machine this engine is slower than the
multi-process one (bench/traces.md), so ``--engine fast`` does not use it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import polars as pl

from nullband.errors import InputError
from nullband.traces.audit import (
    AuditContext,
    StepFacts,
    _ts,
    finalize,
    step_facts,
    summarize,
    timing_limits,
)
from nullband.traces.audit_models import AuditConfig, AuditReport, AuditRow
from nullband.traces.columnar_schema import accept_expr
from nullband.traces.fastaudit import _cuts
from nullband.traces.fastreduce import _medians

_S = pl.String
_CALLS = pl.List(pl.Struct({"function": pl.Struct({"name": _S, "arguments": _S})}))
SCHEMA: dict[str, Any] = {
    "trace_id": _S,
    "step_id": _S,
    "task_class": _S,
    "kind": _S,
    "name": _S,
    "model_requested": _S,
    "model_served": _S,
    "model_routed": _S,
    "provider_requested": _S,
    "provider_served": _S,
    "fallback_index": pl.Int64,
    "retry_count": pl.Int64,
    "cache_hit": pl.Boolean,
    "status": _S,
    "duration_ms": pl.Float64,
    "started_at": _S,
    "tool_name": _S,
    "tool_call_id": _S,
    "tool_arguments": _S,
    "tool_result": _S,
    "output_message": pl.Struct({"tool_calls": _CALLS}),
}
"""The fields the rules read (output_message only for its tool calls)."""

_MODEL_OK = r"^[!-~]*$"  # printable ASCII: lower() and strip() agree with Python's


def _nz(name: str) -> pl.Expr:
    """The column with empty strings as null (Python's ``a or b`` treats "" as missing)."""
    c = pl.col(name)
    return pl.when(c != "").then(c)


def _norm(e: pl.Expr) -> pl.Expr:
    return e.str.to_lowercase().str.replace(r"^.*/", "")


class _Rules:
    """The vectorised rules for one configuration."""

    def __init__(self, config: AuditConfig) -> None:
        self.config = config
        self.ctx = AuditContext(config)
        self.tool_accept: dict[str, pl.Expr | None] = {}
        for name, schema in config.tool_schemas.items():
            self.tool_accept[name] = accept_expr(pl.col("a"), schema)
        self.result_accept = {
            name: accept_expr(pl.col("tool_result"), s) for name, s in config.result_schemas.items()
        }
        self.pinned = dict(self.ctx.pinned)

    def maybe_flagged(self, df: pl.DataFrame) -> pl.Series:
        """True for rows that may carry a per-step flag (the Python function decides)."""
        fi = pl.col("fallback_index").fill_null(0)
        req, served = _nz("model_requested"), _nz("model_served")
        got = pl.coalesce(served, _nz("model_routed"))
        preq, pserv = _nz("provider_requested"), _nz("provider_served")
        nreq = _norm(req)
        if self.pinned:
            nreq = nreq.replace(self.pinned)
        ascii_ok = req.str.contains(_MODEL_OK) & got.str.contains(_MODEL_OK)
        mismatch = (req.is_not_null() & got.is_not_null()) & (
            ~ascii_ok.fill_null(False) | (_norm(got) != nreq).fill_null(True)
        )
        simple = (
            (fi != 0)
            | (preq.is_not_null() & pserv.is_not_null() & (preq != pserv)).fill_null(False)
            | (pl.col("retry_count").fill_null(0) != 0)
            | mismatch
            | pl.col("cache_hit").fill_null(False)
            | (pl.col("status") == "error").fill_null(False)
        )
        out = df.select(simple.alias("m"))["m"] | self._tool_rows(df) | self._call_rows(df)
        return out

    def _tool_rows(self, df: pl.DataFrame) -> pl.Series:
        """Tool steps whose checks the compiled expressions cannot accept."""
        need = np.zeros(df.height, dtype=bool)
        tools = df.select(
            pl.int_range(pl.len()).alias("row"),
            "tool_name",
            "step_id",
            "tool_call_id",
            pl.col("tool_arguments").alias("a"),
            "tool_result",
            kind=pl.col("kind"),
        ).filter(pl.col("kind") == "tool")
        if tools.height == 0:
            return pl.Series(need)
        if self.config.ground_truth:
            keys = list(self.config.ground_truth)
            hit = tools.filter(pl.col("step_id").is_in(keys) | pl.col("tool_call_id").is_in(keys))
            need[hit["row"].to_numpy()] = True
        for tool in set(self.config.tool_schemas) | set(self.config.result_schemas):
            part = tools.filter(pl.col("tool_name") == tool)
            if part.height == 0:
                continue
            ok: list[pl.Expr] = []
            if tool in self.tool_accept:
                acc = self.tool_accept[tool]
                no_args = pl.col("a").is_null()
                ok.append(no_args if acc is None else (no_args | acc))
            if tool in self.result_accept:
                racc = self.result_accept[tool]
                ok.append(pl.lit(False) if racc is None else racc)
            bad = part.filter(~pl.all_horizontal(*ok).fill_null(False))
            need[bad["row"].to_numpy()] = True
        return pl.Series(need)

    def _call_rows(self, df: pl.DataFrame) -> pl.Series:
        """Model steps with tool calls that are not all accepted by the compiled checks."""
        calls = df["output_message"].struct.field("tool_calls")
        n_calls = calls.list.len().fill_null(0)
        has = (df["kind"].fill_null("llm") != "tool") & (n_calls > 0)
        if not has.any():
            return has
        sub = pl.DataFrame({"row": np.arange(df.height), "c": calls}).filter(has)
        flat = sub.explode("c").select(
            "row",
            pl.col("c").struct.field("function").struct.field("name").alias("n"),
            pl.col("c").struct.field("function").struct.field("arguments").alias("a"),
        )
        ok_parts = []
        for tool, acc in self.tool_accept.items():
            if acc is None:
                continue
            part = flat.filter(pl.col("n") == tool)
            if part.height:
                ok_parts.append(part.select("row", acc.alias("ok")))
        per_row = (
            pl.concat(ok_parts).group_by("row").agg(pl.col("ok").sum().alias("k"))
            if ok_parts
            else pl.DataFrame({"row": [], "k": []}, schema={"row": pl.Int64, "k": pl.UInt32})
        )
        counts = flat.group_by("row").agg(pl.len().alias("n"))
        good = counts.join(per_row, on="row", how="left").filter(
            pl.col("k").fill_null(0) == pl.col("n")
        )
        accepted = np.zeros(df.height, dtype=bool)
        accepted[good["row"].to_numpy()] = True
        return has & ~pl.Series(accepted)


def _block_facts(
    data: bytes, start: int, first_idx: int, rules: _Rules, path: str
) -> tuple[pl.DataFrame, dict[int, StepFacts]]:
    """The step facts of one block of lines (rows in input order)."""
    try:
        df = pl.read_ndjson(data, schema=SCHEMA)
    except pl.exceptions.PolarsError:
        df = None  # a field of another type than the Step schema's: every row to Python
    lines = data.split(b"\n")
    if lines and not lines[-1].strip():
        lines.pop()
    if df is None or df.height != len(lines):
        lines = [ln for ln in lines if ln.strip()]
    if df is not None and df.height == len(lines):
        bad = df["trace_id"].is_null() | df["step_id"].is_null()
        bad = bad | (df["trace_id"] == "") | (df["step_id"] == "")
        if bad.any():
            i = int(bad.arg_true()[0])
            raise InputError(
                f"the line at byte {_offset((data, start), lines[i])} is not a step with "
                "trace_id and step_id",
                path=path,
                hint="the fast engine reads generic JSONL; see `nullband traces schema`",
            )
        py = rules.maybe_flagged(df)
    else:
        df, py = None, None
    py_rows = range(len(lines)) if py is None else py.arg_true().to_list()
    facts = [
        _python_facts(lines[i], first_idx + i, (data, start), rules.ctx, path) for i in py_rows
    ]
    parts = []
    if facts:
        parts.append(
            pl.DataFrame(
                [
                    (
                        f.idx,
                        f.trace_id,
                        f.step_id,
                        None,
                        f.task_class or None,
                        f.kind,
                        f.label,
                        f.duration,
                        f.eligible,
                        f.error,
                        bool(f.flags),
                    )
                    for f in facts
                ],
                schema={
                    "idx": pl.Int64,
                    "tid": _S,
                    "sid": _S,
                    "started": _S,
                    "tc": _S,
                    "kind": _S,
                    "label": _S,
                    "dur": pl.Float64,
                    "elig": pl.Boolean,
                    "err": pl.Boolean,
                    "fl": pl.Boolean,
                },
                orient="row",
            )
        )
    if df is not None and py is not None:
        kind = pl.col("kind").fill_null("llm")
        kind = pl.when(kind == "").then(pl.lit("llm")).otherwise(kind)
        tool_label = pl.coalesce(_nz("tool_name"), _nz("name"), pl.lit("-"))
        llm_label = pl.coalesce(
            _nz("model_served"), _nz("model_requested"), _nz("name"), pl.lit("-")
        )
        rest = (
            df.with_row_index("i")
            .filter(~py)
            .select(
                (pl.col("i").cast(pl.Int64) + first_idx).alias("idx"),
                pl.col("trace_id").alias("tid"),
                pl.col("step_id").alias("sid"),
                pl.col("started_at").alias("started"),
                _nz("task_class").alias("tc"),
                kind.alias("kind"),
                pl.when(kind == "tool").then(tool_label).otherwise(llm_label).alias("label"),
                pl.col("duration_ms").alias("dur"),
                pl.col("duration_ms")
                .is_not_null()
                .alias("elig"),  # no cache hit, error or fallback here
                pl.lit(False).alias("err"),
                pl.lit(False).alias("fl"),
            )
        )
        parts.append(rest)
    out = pl.concat(parts) if len(parts) > 1 else parts[0] if parts else _empty()
    return out.sort("idx"), {f.idx: f for f in facts}


def _empty() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "idx": pl.Int64,
            "tid": _S,
            "sid": _S,
            "started": _S,
            "tc": _S,
            "kind": _S,
            "label": _S,
            "dur": pl.Float64,
            "elig": pl.Boolean,
            "err": pl.Boolean,
            "fl": pl.Boolean,
        }
    )


def _offset(block: tuple[bytes, int], line: bytes) -> int:
    """Byte offset in the file of the first whole line equal to ``line`` (for messages)."""
    data, start = block
    pos = 0
    while (k := data.find(line, pos)) >= 0:
        end = k + len(line)
        if (k == 0 or data[k - 1] == 10) and (end == len(data) or data[end] in (10, 13)):
            return start + k
        pos = k + 1
    return start


def _python_facts(
    line: bytes, idx: int, block: tuple[bytes, int], ctx: AuditContext, path: str
) -> StepFacts:
    """The reference per-step function on one line (``block``: its data and start, for errors)."""
    try:
        d = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise InputError(
            f"the line at byte {_offset(block, line)} is not valid JSON ({exc})",
            path=path,
        ) from None
    if not isinstance(d, dict) or not d.get("trace_id") or not d.get("step_id"):
        raise InputError(
            f"the line at byte {_offset(block, line)} is not a step with trace_id and step_id",
            path=path,
            hint="the fast engine reads generic JSONL; see `nullband traces schema`",
        )
    return step_facts(d, idx, ctx)


def reduce_frame(frame: pl.DataFrame, py: dict[int, StepFacts], config: AuditConfig) -> AuditReport:
    """Medians, timing flags and verdicts from the step facts of the whole file."""
    traces = (
        frame.group_by("tid", maintain_order=True)
        .agg(pl.col("tc").drop_nulls().first().alias("tc"), pl.len().alias("n"))
        .with_row_index("tcode")
    )
    f = frame.join(traces.select("tid", "tcode", pl.col("tc").alias("ttc")), on="tid", how="left")
    f = f.sort("idx").with_columns(pl.col("ttc").fill_null("-").alias("key_tc"))
    keys_df = f.select("key_tc", "kind", "label").unique(maintain_order=True).with_row_index("k")
    f = f.join(keys_df, on=["key_tc", "kind", "label"], how="left").sort("idx")
    keys = {(a, b, c): int(k) for k, a, b, c in keys_df.iter_rows()}
    kcode = f["k"].cast(pl.Int64).to_numpy()
    dur = f["dur"].fill_null(np.nan).to_numpy().astype(np.float64)
    ok = f["elig"].to_numpy().astype(bool)
    medians = _medians(keys, kcode, dur, ok, config)
    limits = timing_limits(medians, config)
    slow = np.full(len(keys), np.inf)
    fast = np.full(len(keys), -np.inf)
    for key, (hi, lo, _) in limits.items():
        slow[keys[key]] = hi
        if config.flag_fast:
            fast[keys[key]] = lo
    with np.errstate(invalid="ignore"):
        timed = (dur > slow[kcode]) | (dur < fast[kcode])
    tcode = f["tcode"].cast(pl.Int64).to_numpy()
    mark = timed | f["err"].to_numpy().astype(bool) | f["fl"].to_numpy().astype(bool)
    needs = np.zeros(traces.height, dtype=bool)
    needs[tcode[mark]] = True
    groups: dict[int, list[StepFacts]] = {}
    sel = f.filter(pl.Series(needs[tcode])).select(
        "tcode", "idx", "tid", "sid", "started", "tc", "kind", "label", "dur", "elig"
    )
    for code, idx, tid, sid, started, tc, kind, label, d, el in sel.iter_rows():
        fact = py.get(idx)
        if fact is None:
            fact = StepFacts(tid, sid, _ts(started), idx, tc, kind, label, d, el, False, [])
        groups.setdefault(code, []).append(fact)
    rows: list[AuditRow] = []
    for code, tid, tc, n in traces.select("tcode", "tid", "tc", "n").iter_rows():
        group = groups.get(code)
        rows.append((tid, tc, "clean", n, []) if group is None else finalize(group, limits, config))
    return AuditReport(rows, summarize(rows, medians, config, "fast"))


def audit_file_columnar(
    path: str | Path,
    config: AuditConfig | None = None,
    *,
    threads: int | None = None,
    block_mb: int = 48,
) -> AuditReport:
    """Audit a generic JSONL file with polars columns; same report as the reference engine.

    Example:
        >>> audit_file_columnar("steps.jsonl").summary.verdicts  # doctest: +SKIP
        {'clean': 52, 'noisy': 31, 'corrupted': 17}
    """
    p = Path(path)
    if not p.is_file():
        raise InputError("trace file not found", path=p)
    if p.suffix == ".gz":
        raise InputError("the fast engine reads plain JSONL", path=p, hint="use --engine python")
    cfg = config or AuditConfig()
    rules = _Rules(cfg)
    jobs = _cuts(p, max(1, p.stat().st_size // (block_mb << 20) + 1))
    frames: list[pl.DataFrame] = []
    py: dict[int, StepFacts] = {}
    for frame, facts in _run(jobs, p, rules, threads or os.cpu_count() or 1):
        frames.append(frame)
        py.update(facts)
    frame = pl.concat(frames) if frames else _empty()
    return reduce_frame(frame, py, cfg)


def _run(
    jobs: list[tuple[int, int, int]], p: Path, rules: _Rules, threads: int
) -> Iterator[tuple[pl.DataFrame, dict[int, StepFacts]]]:
    def one(job: tuple[int, int, int]) -> tuple[pl.DataFrame, dict[int, StepFacts]]:
        start, end, first = job
        with p.open("rb") as fh:
            fh.seek(start)
            data = fh.read(end - start)
        return _block_facts(data, start, first, rules, str(p))

    if threads <= 1 or len(jobs) == 1:
        yield from map(one, jobs)
        return
    with ThreadPoolExecutor(threads) as ex:
        yield from ex.map(one, jobs)
