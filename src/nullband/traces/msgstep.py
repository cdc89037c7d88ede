"""The fast engine's view of a step: msgspec structs of only the audited fields.

:class:`AuditedStep` declares the fields of a generic-JSONL step that the audit reads,
typed as the reference schema (:class:`nullband.traces.schema.Step`) types them, so
msgspec skips every other field (messages, usage, attributes) in C and refuses a value
of another type. From a decoded step, :func:`reference_facts` calls the reference
per-step function (:func:`nullband.traces.audit.step_facts`) with the values the
reference would see; a line msgspec refuses goes through :func:`validated_facts`, which
validates it with the reference schema itself (pydantic) first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
import orjson
from pydantic import ValidationError

from nullband.errors import InputError
from nullband.traces.audit import AuditContext, StepFacts, step_facts
from nullband.traces.schema import Step, StepKind

_Id = Annotated[str, msgspec.Meta(min_length=1)]
# orjson (the reference's reader) reads integers past 64 bits as floats: leave those to it
_Count = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
_Ms = Annotated[float, msgspec.Meta(ge=0.0)]
_NO_ARGS = "{}"  # the reference reads a call without "arguments" as "{}"
_NONE = msgspec.Raw(b"")
NULL = msgspec.Raw(b"null")


class Function(msgspec.Struct, gc=False):
    """The function of a tool call (name and arguments are all the audit reads)."""

    name: Any = None
    arguments: Any = _NO_ARGS


class Call(msgspec.Struct, gc=False):
    """One tool call of an assistant message."""

    function: Function | None = None


class Output(msgspec.Struct, gc=False):
    """The assistant message returned (its tool calls are all the audit reads)."""

    tool_calls: list[Call] | None = None


class Definition(msgspec.Struct, gc=False):
    """A tool offered to the model; its function is parsed only when a call needs it."""

    function: msgspec.Raw = _NONE


class _Object(msgspec.Struct, gc=False):
    """Any JSON object; its content is skipped (the reference takes any dict there)."""


class _Usage(msgspec.Struct, gc=False):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


class AuditedStep(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """A generic-JSONL step as the audit reads it, typed as the reference schema types it.

    The fields the audit reads are decoded; the others are checked (as the reference
    schema checks them) and their content skipped. Unknown fields are refused, as the
    reference refuses them.
    """

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
    output_message: Output | None = None
    tool_definitions: list[Definition] = []
    # checked, not read by the audit
    schema_version: int = 1
    parent_id: str | None = None
    segments: dict[str, str] = {}
    ttft_ms: _Ms | None = None
    system_fingerprint: str | None = None
    usage: _Usage = msgspec.field(default_factory=_Usage)
    cost_usd: _Ms | None = None
    input_messages: list[_Object] = []
    source: Literal["otel", "litellm", "bifrost", "generic"] = "generic"
    source_ref: str | None = None
    attributes: _Object = msgspec.field(default_factory=_Object)


decode_step = msgspec.json.Decoder(AuditedStep).decode
decode_str = msgspec.json.Decoder(str).decode
DECODE_ERRORS = (msgspec.ValidationError, msgspec.DecodeError)


def _value(raw: msgspec.Raw) -> Any:
    return orjson.loads(bytes(raw)) if raw else None


def reference_facts(s: AuditedStep, idx: int, ctx: AuditContext) -> StepFacts:
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


def validated_facts(line: bytes, offset: int, idx: int, ctx: AuditContext, path: str) -> StepFacts:
    """A line msgspec refused: the reference schema validates it, then the reference rules.

    Raises:
        InputError: the line is not a valid step; names the file, the line number (counted
            only now: workers read byte ranges) and the byte offset, and the field.
    """
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise InputError(
            f"line at byte {offset} is not valid JSON ({exc})",
            path=path,
            line=line_number(path, offset),
            hint="each line must be one JSON object (generic JSONL)",
        ) from None
    if not isinstance(obj, dict):
        raise InputError(
            f"line at byte {offset} is a JSON {type(obj).__name__}, not a step",
            path=path,
            line=line_number(path, offset),
        )
    try:
        step = Step.model_validate(obj)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InputError(
            f"line at byte {offset}: {err['msg']}",
            path=path,
            line=line_number(path, offset),
            field=".".join(str(p) for p in err["loc"]) or None,
            hint="see `nullband traces schema` for the fields of a step",
        ) from None
    return step_facts(step.model_dump(), idx, ctx)


def line_number(path: str, offset: int) -> int | None:
    """The 1-based number of the line starting at byte ``offset`` of ``path`` (the
    newlines before it, counted in blocks), or None when the file cannot be read."""
    try:
        with open(path, "rb") as fh:
            n, left = 1, offset
            while left > 0:
                block = fh.read(min(left, 1 << 24))
                if not block:
                    break
                n += block.count(b"\n")
                left -= len(block)
            return n
    except OSError:
        return None


def line_offset(data: bytes, lines_before: int, start: int) -> int:
    """File offset of the line after the first ``lines_before`` lines of ``data``."""
    pos = 0
    for _ in range(lines_before):
        pos = data.index(b"\n", pos) + 1
    return start + pos
