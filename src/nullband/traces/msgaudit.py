"""The fast engine's per-chunk step: typed msgspec decoding and a screen for flags.

Each line is decoded into :class:`_Step`, a msgspec struct that declares only the
fields the audit reads, typed as the reference schema (:class:`~nullband.traces.schema.Step`)
types them; msgspec skips every other field (messages, usage, attributes) in C. A cheap
screen then decides whether the row can carry a flag: a fallback, a provider or model
difference, retries, a cache hit, an error, recorded ground truth, or a tool call or
tool step whose arguments or result are not *proven* valid (by a msgspec type that only
accepts, :mod:`nullband.traces.msgschema`, else by the reference check). Rows that can
carry a flag go through the reference per-step function
(:func:`nullband.traces.audit.step_facts`), so their flags and reasons are the
reference's; every other row has no flag and only compact facts of it are kept.

A line msgspec refuses (a field of another type, a value the reference would coerce)
is validated by the reference schema itself (pydantic), so it is audited, or refused,
exactly as the reference engine does.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Annotated, Any, Literal, NamedTuple, get_args, get_origin

import msgspec
import numpy as np
import orjson
from pydantic import ValidationError

from nullband.errors import InputError
from nullband.traces.audit import AuditContext, StepFacts, _args_error, _norm, finalize, step_facts
from nullband.traces.audit_models import AuditRow
from nullband.traces.msgschema import accept_type
from nullband.traces.schema import Step, StepKind
from nullband.traces.validate import SchemaCheck

_Id = Annotated[str, msgspec.Meta(min_length=1)]
# orjson (the reference's reader) reads integers past 64 bits as floats: leave those to it
_Count = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
_Ms = Annotated[float, msgspec.Meta(ge=0.0)]
_NO_ARGS = "{}"  # the reference reads a call without "arguments" as "{}"
_NONE = msgspec.Raw(b"")
_NULL = msgspec.Raw(b"null")


class _Fn(msgspec.Struct, gc=False):
    name: Any = None
    arguments: Any = _NO_ARGS


class _Call(msgspec.Struct, gc=False):
    function: _Fn | None = None


class _Out(msgspec.Struct, gc=False):
    tool_calls: list[_Call] | None = None


class _Def(msgspec.Struct, gc=False):
    function: msgspec.Raw = _NONE


class _Step(msgspec.Struct, gc=False):
    """The fields of a generic-JSONL step that the audit reads, typed as the schema's."""

    trace_id: _Id
    step_id: _Id
    started_at: datetime | None = None
    task_class: str | None = None
    kind: StepKind = "llm"
    name: str | None = None
    model_requested: str | None = None
    model_served: str | None = None
    model_routed: str | None = None
    provider_requested: str | None = None
    provider_served: str | None = None
    fallback_index: _Count = 0
    retry_count: _Count = 0
    cache_hit: bool = False
    status: Literal["ok", "error"] = "ok"
    cache_kind: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    duration_ms: _Ms | None = None
    tool_name: str | None = None
    tool_call_id: str | None = None
    tool_arguments: Any = None
    tool_result: msgspec.Raw = _NONE
    output_message: _Out | None = None
    tool_definitions: list[_Def] = []


_DECODE = msgspec.json.Decoder(_Step).decode
_DECODE_STR = msgspec.json.Decoder(str).decode
_BAD = (msgspec.ValidationError, msgspec.DecodeError)


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
    special: dict[int, tuple[Any, ...]]
    """Row -> the reference per-step facts (a plain tuple of the :class:`StepFacts`
    fields, cheaper to send), for rows that may carry a flag."""
    rows: dict[int, AuditRow]
    """Trace code -> :func:`finalize` of the chunk's steps of the trace without timing
    limits, for traces with a special row: the final row unless the trace has steps in
    other chunks or a span outside its class's limits."""


class _Accept:
    """Decoders that only accept valid values, per tool (None: no fast type)."""

    def __init__(self, checks: dict[str, SchemaCheck]) -> None:
        self.decode: dict[str, Any] = {}
        self.strings: set[str] = set()
        """Tools whose type may accept a JSON string."""
        for name, check in checks.items():
            ty = accept_type(check.schema)
            self.decode[name] = msgspec.json.Decoder(ty).decode if ty is not None else None
            if ty is not None and not _never_str(ty):
                self.strings.add(name)

    def ok(self, name: str, text: bytes | str | msgspec.Raw) -> bool:
        dec = self.decode.get(name)
        if dec is None:
            return False
        try:
            dec(text)
        except _BAD:
            return False
        return True


def _never_str(ty: Any) -> bool:
    """The type never decodes a JSON string (a struct, a dict or a list type)."""
    if isinstance(ty, type) and issubclass(ty, msgspec.Struct):
        return True
    origin = get_origin(ty)
    if origin is Annotated:
        return _never_str(get_args(ty)[0])
    return origin in (dict, list)


class _Remembered(SchemaCheck):
    """A result check that remembers its message per value (keyed on the value's JSON)."""

    def __init__(self, check: SchemaCheck) -> None:  # shares the check's compiled state
        self.__dict__.update(check.__dict__)
        self._seen: dict[bytes, str | None] = {}

    def error(self, value: Any) -> str | None:
        try:
            key = orjson.dumps(value)
        except TypeError:
            return super().error(value)
        if key in self._seen:
            return self._seen[key]
        if len(self._seen) > 100_000:
            self._seen.clear()
        err = self._seen[key] = super().error(value)
        return err


class ChunkAuditor:
    """Audits chunks of generic JSONL in one process (its caches live across chunks)."""

    def __init__(self, ctx: AuditContext) -> None:
        self.ctx = ctx
        self.gt = ctx.config.ground_truth
        # flagged results repeat (the same error payload): remember jsonschema's message
        ctx.result = {n: _Remembered(c) for n, c in ctx.result.items()}
        self._args = _Accept(ctx.tool)
        results = _Accept(ctx.result)
        self._result_plan = {n: (dec, n in results.strings) for n, dec in results.decode.items()}
        """Tool -> (decoder that only accepts valid results, a string may pass it)."""
        self._models: dict[tuple[str, str], bool] = {}
        self._known: dict[tuple[str, str], bool] = {}
        """(configured tool, argument text) -> proven valid."""
        self._defs: dict[bytes, dict[Any, SchemaCheck | None]] = {}

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

    def _calls_clean(self, s: _Step, calls: list[_Call]) -> bool:
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

    def _call_clean(self, s: _Step, name: str, args: Any) -> bool:
        check = self.ctx.tool.get(name)
        if check is not None:
            return self._args_ok(name, check, args)
        if not s.tool_definitions:
            return True
        defs = self._definitions(s.tool_definitions)
        if defs is None or name not in defs:
            return False  # a call to a tool not offered (or no readable definitions)
        found = defs[name]
        return found is None or _args_error(found, args, self.ctx) is None

    def _definitions(self, defs: list[_Def]) -> dict[Any, SchemaCheck | None] | None:
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

    def _facts(self, s: _Step, idx: int) -> StepFacts:
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
        return _facts(s, idx, ctx)

    def _tool_clean(self, s: _Step) -> bool:
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
        res = s.tool_result or _NULL
        if strings:
            raw = bytes(res)
            if raw[:1] == b'"' and _DECODE_STR(raw)[:1] in "[{":
                return False  # the reference parses such a string (and "") first
        if dec is None:
            return False  # no fast type: the reference decides
        try:
            dec(res)
        except _BAD:
            return False
        return True

    def run(self, data: bytes, start: int, first_idx: int, path: str) -> ChunkFacts:
        """Facts of the lines in ``data`` (the bytes at offset ``start`` of ``path``)."""
        ctx = self.ctx
        decode = _DECODE
        differs = self._model_differs
        tool_clean = self._tool_clean
        calls_clean = self._calls_clean
        tmap: dict[str, int] = {}
        kmap: dict[tuple[str | None, str, str], int] = {}
        tcode: list[int] = []
        kcode: list[int] = []
        durs: list[float] = []
        tss: list[float] = []
        sids: list[str] = []
        special: dict[int, StepFacts] = {}
        nan = float("nan")
        inf = float("inf")
        prev_tid = None
        tc = -1
        row = 0
        blank = 0
        for line in io.BytesIO(data):
            try:
                s = decode(line)
            except _BAD:
                if not line.strip():
                    blank += 1
                    continue
                f = _reference(line, _offset(data, row + blank, start), first_idx + row, ctx, path)
                special[row] = f
                tid, sid, ts, task, kind, label, dur = (
                    f.trace_id,
                    f.step_id,
                    f.ts,
                    f.task_class,
                    f.kind,
                    f.label,
                    f.duration,
                )
            else:
                tid = s.trace_id
                sid = s.step_id
                kind = s.kind
                task = s.task_class
                dur = s.duration_ms
                st = s.started_at
                ts = st.timestamp() if st is not None else inf
                got = s.model_served or s.model_routed
                req = s.model_requested
                preq = s.provider_requested
                pserv = s.provider_served
                if kind == "tool":
                    label = s.tool_name or s.name or "-"
                else:
                    label = s.model_served or req or s.name or "-"
                if (
                    s.fallback_index
                    or s.retry_count
                    or s.cache_hit
                    or s.status == "error"
                    or (preq and pserv and preq != pserv)
                    or (req and got and differs(req, got))
                    or not (
                        tool_clean(s)
                        if kind == "tool"
                        else (
                            (out := s.output_message) is None
                            or not out.tool_calls
                            or calls_clean(s, out.tool_calls)
                        )
                    )
                ):
                    special[row] = self._facts(s, first_idx + row)
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
        trace_ids = list(tmap)
        keys = list(kmap)
        tarr = np.array(tcode, dtype=np.int64)
        rows: dict[int, AuditRow] = {}
        if special:
            # speculative per-trace rows, so the parent rarely runs finalize itself
            groups: dict[int, list[StepFacts]] = {}
            flagged = np.array(sorted({tcode[r] for r in special}), dtype=np.int64)
            for r in np.flatnonzero(np.isin(tarr, flagged)).tolist():
                t = tcode[r]
                known = special.get(r)
                if known is not None:
                    f = known
                else:
                    task, kind, label = keys[kcode[r]]
                    d = durs[r]
                    none = d != d
                    f = StepFacts(
                        trace_ids[t], sids[r], tss[r], first_idx + r, task, kind, label,
                        None if none else d, not none, False, [],
                    )  # fmt: skip
                groups.setdefault(t, []).append(f)
            cfg = ctx.config
            rows = {t: finalize(g, {}, cfg) for t, g in groups.items()}
        return ChunkFacts(
            first_idx,
            trace_ids,
            tarr,
            keys,
            np.array(kcode, dtype=np.int64),
            np.array(durs, dtype=np.float64),
            np.array(tss, dtype=np.float64),
            _join(sids),
            {r: tuple(f) for r, f in special.items()},
            rows,
        )


def _value(raw: msgspec.Raw) -> Any:
    return orjson.loads(bytes(raw)) if raw else None


def _facts(s: _Step, idx: int, ctx: AuditContext) -> StepFacts:
    """The reference per-step facts of a row the screen did not clear.

    The reference function gets a dict of the fields it reads, with the values the
    reference schema would give them (messages and definitions rebuilt to the extent it
    reads them: the tool calls' function names and arguments).
    """
    d = msgspec.structs.asdict(s)
    d["tool_result"] = _value(s.tool_result)
    d["tool_definitions"] = []
    out = s.output_message
    if out is not None:
        calls = out.tool_calls
        if calls is None:
            d["output_message"] = {"tool_calls": None}
        else:
            d["output_message"] = {
                "tool_calls": [
                    {"function": None if c.function is None else msgspec.structs.asdict(c.function)}
                    for c in calls
                ]
            }
            if s.tool_definitions and any(
                c.function is None or str(c.function.name) not in ctx.tool for c in calls
            ):
                d["tool_definitions"] = [
                    {"function": _value(r.function)} if r.function else {}
                    for r in s.tool_definitions
                ]
    return step_facts(d, idx, ctx)


def _reference(line: bytes, offset: int, idx: int, ctx: AuditContext, path: str) -> StepFacts:
    """A line msgspec refused: the reference schema validates it, then the reference rules."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise InputError(
            f"line at byte {offset} is not valid JSON ({exc})",
            path=path,
            hint="each line must be one JSON object (generic JSONL)",
        ) from None
    if not isinstance(obj, dict):
        raise InputError(
            f"line at byte {offset} is a JSON {type(obj).__name__}, not a step", path=path
        )
    try:
        step = Step.model_validate(obj)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InputError(
            f"line at byte {offset}: {err['msg']}",
            path=path,
            field=".".join(str(p) for p in err["loc"]) or None,
            hint="see `nullband traces schema` for the fields of a step",
        ) from None
    return step_facts(step.model_dump(), idx, ctx)


def _offset(data: bytes, lines_before: int, start: int) -> int:
    """File offset of the line after the first ``lines_before`` lines of ``data``."""
    pos = 0
    for _ in range(lines_before):
        pos = data.index(b"\n", pos) + 1
    return start + pos


def _join(ids: list[str]) -> str | list[str]:
    joined = "\n".join(ids)
    return joined if joined.count("\n") == max(len(ids) - 1, 0) else ids


def split_ids(ids: str | list[str], n: int) -> list[str]:
    """The step ids of a chunk's ``n`` rows (see :attr:`ChunkFacts.step_ids`)."""
    if isinstance(ids, list):
        return ids
    return ids.split("\n") if n else []
