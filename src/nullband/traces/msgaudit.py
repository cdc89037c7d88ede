"""The fast engine's per-chunk step: decode, screen each row for flags, keep compact facts.

Each line is decoded into :class:`~nullband.traces.msgstep.AuditedStep` (only the
audited fields). A cheap screen then decides whether the row can carry a flag: a
fallback, a provider or model difference, retries, a cache hit, an error, recorded
ground truth, or a tool call or tool step whose arguments or result are not *proven*
valid (by a msgspec type that only accepts, :mod:`nullband.traces.msgschema`, else by
the reference check). Rows that can carry a flag go through the reference per-step
function (:func:`nullband.traces.audit.step_facts`), so their flags and reasons are the
reference's; every other row has no flag, and only compact facts of it are kept. Traces
with such rows also get a speculative :func:`~nullband.traces.audit.finalize` here (no
timing limits are known yet), which the parent keeps unless timing or another chunk
changes the trace.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import numpy as np
import orjson

from nullband.traces.audit import AuditContext, StepFacts, _args_error, _norm
from nullband.traces.msgrows import flag_verdicts
from nullband.traces.msgschema import AcceptDecoders, RememberedCheck
from nullband.traces.msgstep import (
    DECODE_ERRORS,
    NULL,
    AuditedStep,
    Call,
    Definition,
    decode_step,
    decode_str,
    line_offset,
    reference_facts,
    validated_facts,
)
from nullband.traces.validate import SchemaCheck

_INF = float("inf")


class ChunkFacts(NamedTuple):
    """Compact facts of one chunk's rows, in input order (what a worker sends back)."""

    first_idx: int
    trace_ids: list[str]
    """Unique trace ids of the chunk, first seen first."""
    tcode: np.ndarray
    """Per row: index into ``trace_ids``."""
    keys: list[tuple[str | None, str, str]]
    """Unique (task class or None, kind, label) of the rows."""
    kcode: np.ndarray
    """Per row: index into ``keys``."""
    dur: np.ndarray
    """Per row: duration in ms, NaN when missing."""
    ts: np.ndarray
    """Per row: start time (POSIX seconds, inf when missing)."""
    step_ids: str | list[str]
    """Per row: the step id; joined by newlines when no id holds one (cheaper to send)."""
    special: dict[int, StepFacts]
    """Row -> the reference per-step facts, for rows that may carry a flag (sent as
    arrays: :mod:`nullband.traces.msgwire`)."""
    step_offs: np.ndarray | None = None
    """Where known (the C scanner's chunks): the character offset of each row's step id
    in ``step_ids`` (joined), one more than the rows, so the parent slices the few ids
    it needs instead of splitting them all."""
    flagged: tuple[list[int], list[int], list[int]] = ([], [], [])
    """Every trace with a special row: (trace codes, the verdict of its row without
    timing limits as an index into ("clean", "noisy", "corrupted"), a mask of the flag
    codes it carries with bit ``i`` for ``FLAG_CODES[i]``), from :func:`flag_verdicts`.
    Its row is its special rows' flags in start order, plus trace_failed where
    ``fails`` says."""
    fails: dict[int, int] | None = None
    """Trace code -> its last row, for the traces whose row ends in trace_failed."""


class ChunkAuditor:
    """Audits chunks of generic JSONL in one process (its caches live across chunks)."""

    def __init__(self, ctx: AuditContext) -> None:
        self.ctx = ctx
        self.gt = ctx.config.ground_truth
        # flagged results repeat (the same error payload): remember jsonschema's message
        ctx.result = {n: RememberedCheck(c) for n, c in ctx.result.items()}
        self._args = AcceptDecoders(ctx.tool)
        results = AcceptDecoders(ctx.result)
        self._result_plan = {n: (dec, n in results.strings) for n, dec in results.decode.items()}
        """Tool -> (decoder that only accepts valid results, a string may pass it)."""
        self._models: dict[tuple[str, str], bool] = {}
        self._known: dict[tuple[str, str], bool] = {}
        """(configured tool, argument text) -> proven valid."""
        self._defs: dict[bytes, dict[Any, SchemaCheck | str | None]] = {}

    def _model_differs(self, req: str, got: str) -> bool:
        hit = self._models.get((req, got))
        if hit is None:
            nreq = _norm(req)
            hit = _norm(got) != self.ctx.pinned.get(nreq, nreq)
            if len(self._models) > 100_000:
                self._models.clear()
            self._models[(req, got)] = hit
        return hit

    def _args_ok(self, name: str, check: SchemaCheck, args: Any) -> bool:
        """A configured tool's arguments are valid (memoised on the text).

        Proven by the tool's msgspec type; without one, the reference check decides.
        False means "not proven": the row goes to the reference function.
        """
        if not isinstance(args, str):
            return _args_error(check, args, self.ctx) is None
        key = (name, args)
        hit = self._known.get(key)
        if hit is None:
            if self._args.decode.get(name) is not None:
                hit = self._args.ok(name, args)
            else:
                hit = _args_error(check, args, self.ctx) is None
            if len(self._known) > 200_000:
                self._known.clear()
            self._known[key] = hit
        return hit

    def _calls_clean(self, s: AuditedStep, calls: list[Call]) -> bool:
        """No call of the step's output can raise a tool-argument flag."""
        known = self._known
        for call in calls:
            fn = call.function
            if fn is None or not isinstance(fn.name, str):
                return False
            if isinstance(fn.arguments, str) and known.get((fn.name, fn.arguments)) is True:
                continue
            if not self._call_clean(s, fn.name, fn.arguments):
                return False
        return True

    def _call_clean(self, s: AuditedStep, name: str, args: Any) -> bool:
        check = self.ctx.tool.get(name)
        if check is not None:
            return self._args_ok(name, check, args)
        if not s.tool_definitions:
            return True
        defs = self._definitions(s.tool_definitions)
        if defs is None or name not in defs:
            return False  # a call to a tool not offered (or no readable definitions)
        found = defs[name]
        if isinstance(found, str):
            return False  # an unusable definition: the reference flags it
        return found is None or _args_error(found, args, self.ctx) is None

    def _definitions(self, defs: list[Definition]) -> dict[Any, SchemaCheck | str | None] | None:
        """Tool name -> the check of its parameters, as the reference reads definitions.

        None when a definition's function is not an object (the reference decides).
        """
        key = b"\n".join(bytes(d.function) for d in defs)
        found = self._defs.get(key)
        if found is None:
            params: dict[Any, Any] = {}
            for d in defs:
                fn = orjson.loads(bytes(d.function)) if d.function else None
                fn = fn or {}
                if not isinstance(fn, dict):
                    return None
                params[fn.get("name")] = fn.get("parameters")
            found = {
                n: (self.ctx.schema_for_definition(p) if p is not None else None)
                for n, p in params.items()
            }
            if len(self._defs) > 10_000:
                self._defs.clear()
            self._defs[key] = found
        return found

    def _facts(self, s: AuditedStep, idx: int) -> StepFacts:
        """The reference per-step facts of a row the screen did not clear."""
        # arguments the screen proved valid: the reference's own memo learns it, so the
        # reference function does not check them again (its verdict would be the same)
        ctx = self.ctx
        known = self._known
        out = s.output_message
        pairs = [
            (c.function.name, c.function.arguments)
            for c in (out and out.tool_calls) or ()
            if c.function
        ]
        if s.kind == "tool":
            pairs.append((s.tool_name, s.tool_arguments))
        for name, args in pairs:
            if isinstance(args, str) and isinstance(name, str) and known.get((name, args)) is True:
                ctx.memo[(id(ctx.tool[name]), args)] = None
        return reference_facts(s, idx, ctx)

    def _tool_clean(self, s: AuditedStep) -> bool:
        """The tool step's arguments, result and ground truth raise no flag."""
        gt = self.gt
        if gt and (s.step_id in gt or s.tool_call_id in gt):
            return False
        name = s.tool_name
        if not name:
            return True
        args = s.tool_arguments
        if args is not None:
            check = self.ctx.tool.get(name)
            if check is not None:
                if isinstance(args, str):
                    if self._known.get((name, args)) is not True and not self._args_ok(
                        name, check, args
                    ):
                        return False
                elif not self._args_ok(name, check, args):
                    return False
        plan = self._result_plan.get(name)
        if plan is None:
            return True  # no result schema for this tool
        dec, strings = plan
        res = s.tool_result or NULL
        if strings:
            raw = bytes(res)
            if raw[:1] == b'"' and decode_str(raw)[:1] in "[{":
                return False  # the reference parses such a string (and "") first
        if dec is None:
            return False  # no fast type: the reference decides
        try:
            dec(res)
        except DECODE_ERRORS:
            return False
        return True

    def row(self, line: bytes, offset: Callable[[], int], idx: int, path: str) -> Row | None:
        """The facts of one line (None for a blank line); ``offset()`` is its file offset
        (asked only for the error message of a line the reference refuses)."""
        try:
            s = decode_step(line)
        except DECODE_ERRORS:
            if not line.strip():
                return None
            f = validated_facts(line, offset(), idx, self.ctx, path)
            return (f.trace_id, f.step_id, f.ts, f.task_class, f.kind, f.label, f.duration, f)
        kind = s.kind
        st = s.started_at
        served = s.model_served
        req = s.model_requested
        preq = s.provider_requested
        if kind == "tool":
            label = s.tool_name or s.name or "-"
            clean = self._tool_clean(s)
        else:
            label = served or req or s.name or "-"
            out = s.output_message
            clean = out is None or not out.tool_calls or self._calls_clean(s, out.tool_calls)
        special = None
        if (
            not clean
            or s.fallback_index
            or s.retry_count
            or s.cache_hit
            or s.status == "error"
            or (preq and (pserv := s.provider_served) and preq != pserv)
            or (
                req
                and (got := served or s.model_routed)
                and self._models.get((req, got), True)
                and self._model_differs(req, got)
            )
        ):
            special = self._facts(s, idx)
        ts = st.timestamp() if st is not None else _INF
        return (s.trace_id, s.step_id, ts, s.task_class, kind, label, s.duration_ms, special)

    def run(self, data: bytes, start: int, first_idx: int, path: str) -> ChunkFacts:
        """Facts of the lines in ``data`` (the bytes at offset ``start`` of ``path``)."""
        tmap: dict[str, int] = {}
        kmap: dict[tuple[str | None, str, str], int] = {}
        tcode: list[int] = []
        kcode: list[int] = []
        durs: list[float] = []
        tss: list[float] = []
        sids: list[str] = []
        special: dict[int, StepFacts] = {}
        nan = float("nan")
        prev_tid = None
        tc = -1
        row = 0
        blank = 0
        row_facts = self.row
        for line in io.BytesIO(data):
            got = row_facts(
                line, partial(line_offset, data, row + blank, start), first_idx + row, path
            )
            if got is None:
                blank += 1
                continue
            tid, sid, ts, task, kind, label, dur, f = got
            if f is not None:
                special[row] = f
            if tid != prev_tid:
                t = tmap.get(tid)
                if t is None:
                    t = tmap[tid] = len(tmap)
                prev_tid = tid
                tc = t
            tcode.append(tc)
            key = (task or None, kind, label)
            k = kmap.get(key)
            if k is None:
                k = kmap[key] = len(kmap)
            kcode.append(k)
            durs.append(nan if dur is None else dur)
            tss.append(ts)
            sids.append(sid)
            row += 1
        return pack(
            self.ctx,
            first_idx,
            list(tmap),
            np.array(tcode, dtype=np.int64),
            list(kmap),
            np.array(kcode, dtype=np.int64),
            np.array(durs, dtype=np.float64),
            np.array(tss, dtype=np.float64),
            _join(sids),
            special,
        )


Row = tuple[str, str, float, str | None, str, str, float | None, StepFacts | None]
"""(trace id, step id, start time, task class, kind, label, duration, the reference
per-step facts when the row may carry a flag)."""


def pack(
    ctx: AuditContext,
    first_idx: int,
    trace_ids: list[str],
    tcode: np.ndarray,
    keys: list[tuple[str | None, str, str]],
    kcode: np.ndarray,
    dur: np.ndarray,
    ts: np.ndarray,
    step_ids: str | list[str],
    special: dict[int, StepFacts],
    step_offs: np.ndarray | None = None,
) -> ChunkFacts:
    """A chunk's facts, with the verdicts of its flagged traces without timing limits.

    ``step_ids`` and ``step_offs`` as :attr:`ChunkFacts.step_ids` and
    :attr:`ChunkFacts.step_offs` hold them.
    """
    flagged: tuple[list[int], list[int], list[int]] = ([], [], [])
    fails: dict[int, int] = {}
    if special:
        # the verdict of each flagged trace, so the parent rarely runs finalize itself
        flagged, fails = flag_verdicts(ctx.config, tcode, ts, special)
    return ChunkFacts(
        first_idx,
        trace_ids,
        tcode,
        keys,
        kcode,
        dur,
        ts,
        step_ids,
        special,
        step_offs,
        flagged,
        fails,
    )


def _join(ids: list[str]) -> str | list[str]:
    joined = "\n".join(ids)
    return joined if joined.count("\n") == max(len(ids) - 1, 0) else ids


def split_ids(ids: str | list[str], n: int) -> list[str]:
    """The step ids of a chunk's ``n`` rows (see :attr:`ChunkFacts.step_ids`)."""
    if isinstance(ids, list):
        return ids
    return ids.split("\n") if n else []
