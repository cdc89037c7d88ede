"""Records of the trace audit: its configuration, per-trace verdicts and the summary."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

AUDIT_SCHEMA_VERSION = 1

FlagCode = Literal[
    "fallback",
    "retry",
    "model_mismatch",
    "cache_hit",
    "tool_args_invalid",
    "tool_result_invalid",
    "tool_result_mismatch",
    "slow_span",
    "fast_span",
    "step_error",
    "trace_failed",
]
Verdict = Literal["clean", "noisy", "corrupted"]
ClassState = Literal["ok", "not_enough_data"]

DEFAULT_SEVERITY: dict[str, Verdict] = {
    "fallback": "noisy",
    "retry": "noisy",
    "model_mismatch": "noisy",
    "cache_hit": "noisy",
    "slow_span": "noisy",
    "fast_span": "noisy",
    "step_error": "noisy",
    "tool_args_invalid": "corrupted",
    "tool_result_invalid": "corrupted",
    "tool_result_mismatch": "corrupted",
    "trace_failed": "corrupted",
}
"""Which verdict each flag implies: noisy (right answer by an unreproducible path) or
corrupted (the trace claims success but data or output is wrong)."""


def _usable_schema(schema: dict[str, Any]) -> dict[str, Any]:
    from nullband.traces.validate import schema_problem  # jsonschema: only when validating

    problem = schema_problem(schema)
    if problem is not None:
        raise PydanticCustomError("json_schema", "{problem}", {"problem": problem})
    return schema


JsonSchema = Annotated[dict[str, Any], AfterValidator(_usable_schema)]
"""A JSON Schema object, checked against its draft's meta-schema."""


class AuditConfig(BaseModel):
    """What the audit checks; loadable from YAML (`nullband traces audit --config`)."""

    model_config = ConfigDict(extra="forbid")

    timing_factor: float = Field(
        default=1.5, gt=1.0, description="A span slower than factor x its class median is flagged."
    )
    flag_fast: bool = Field(
        default=False, description="Also flag spans faster than median / factor."
    )
    min_class_size: int = Field(
        default=5, ge=1, description="Fewest timing samples for a class median to be used."
    )
    pinned: dict[str, str] = Field(
        default_factory=dict,
        description="Requested model or alias -> the exact snapshot that must serve it.",
    )
    tool_schemas: dict[str, JsonSchema] = Field(
        default_factory=dict,
        description="Tool name -> JSON Schema of its arguments (overrides definitions in traces).",
    )
    result_schemas: dict[str, JsonSchema] = Field(
        default_factory=dict, description="Tool name -> JSON Schema its result must satisfy."
    )
    ground_truth: dict[str, Any] = Field(
        default_factory=dict,
        description="Step id or tool call id -> the recorded correct tool result.",
    )
    severity: dict[FlagCode, Verdict] = Field(
        default_factory=dict, description="Overrides of the verdict a flag implies."
    )
    ignore: list[FlagCode] = Field(default_factory=list, description="Flags not raised at all.")

    def verdict_of(self, code: str) -> Verdict:
        """The verdict flag ``code`` implies under this configuration."""
        return self.severity.get(code, DEFAULT_SEVERITY[code])  # type: ignore[call-overload,no-any-return]


class AuditFlag(BaseModel):
    """One problem found in a trace."""

    code: FlagCode = Field(description="What kind of problem.")
    step_id: str | None = Field(default=None, description="The step it was found on.")
    reason: str = Field(description="The evidence in words (values included).")
    severity: Verdict = Field(description="The verdict this flag implies.")


class TraceAudit(BaseModel):
    """The audit of one trace (one line of the audit JSONL)."""

    schema_version: int = Field(default=AUDIT_SCHEMA_VERSION, description="Schema version.")
    trace_id: str = Field(description="The trace.")
    task_class: str | None = Field(default=None, description="Its task class.")
    verdict: Verdict = Field(description="clean, noisy or corrupted (the worst flag's).")
    n_steps: int = Field(description="Steps in the trace.")
    flags: list[AuditFlag] = Field(default_factory=list, description="Every problem found.")


class ClassTiming(BaseModel):
    """The timing baseline of one (task class, step kind, model or tool) class."""

    task_class: str = Field(description="Task class ('-' when unknown).")
    kind: str = Field(description="Step kind.")
    label: str = Field(description="Model served (llm) or tool name (tool).")
    n: int = Field(description="Eligible samples (no cache hit, error or fallback).")
    median_ms: float | None = Field(default=None, description="Median duration, when n suffices.")
    state: ClassState = Field(description="'not_enough_data' when n < min_class_size.")


class AuditSummary(BaseModel):
    """Counts per verdict and per flag, like the field notes' audit table."""

    schema_version: int = Field(default=AUDIT_SCHEMA_VERSION, description="Schema version.")
    n_traces: int = Field(description="Traces audited.")
    n_steps: int = Field(description="Steps audited.")
    verdicts: dict[Verdict, int] = Field(description="Traces per verdict.")
    flags: dict[str, int] = Field(description="Traces carrying each flag.")
    classes: list[ClassTiming] = Field(description="Timing baselines used.")
    config: AuditConfig = Field(description="The configuration the audit ran with.")
    engine: str = Field(description="'python' or 'fast' (multi-process) engine.")

    def share(self, verdict: Verdict) -> float | None:
        """Share of traces with ``verdict``; None when there are no traces."""
        return self.verdicts.get(verdict, 0) / self.n_traces if self.n_traces else None


AuditRow = tuple[str, str | None, str, int, list[tuple[str, str, str, str]]]
"""A compact per-trace audit: (trace id, task class, verdict, steps, [(code, step id,
reason, severity)]). Reports keep rows and build :class:`TraceAudit` models on access."""


class AuditReport:
    """Per-trace audits plus the summary.

    The rows are compact tuples (a million traces fit in little memory); ``traces``
    builds the pydantic models on first access. An engine may hand over a function that
    builds the rows instead of the list: it runs on first access of ``rows``, so an
    audit read for its summary alone never builds them.
    """

    def __init__(
        self, rows: list[AuditRow] | Callable[[], list[AuditRow]], summary: AuditSummary
    ) -> None:
        self._rows: list[AuditRow] | None = None
        self._make: Callable[[], list[AuditRow]] | None = None
        if callable(rows):
            self._make = rows
        else:
            self._rows = rows
        self.summary = summary
        self._models: list[TraceAudit] | None = None

    @property
    def rows(self) -> list[AuditRow]:
        """One compact row per trace, in first-seen order."""
        if self._rows is None:
            assert self._make is not None
            self._rows = self._make()
            self._make = None
        return self._rows

    @property
    def traces(self) -> list[TraceAudit]:
        """One :class:`TraceAudit` per trace."""
        if self._models is None:
            self._models = [row_to_audit(r) for r in self.rows]
        return self._models

    def by_verdict(self, *verdicts: Verdict) -> set[str]:
        """Trace ids whose verdict is one of ``verdicts``."""
        return {r[0] for r in self.rows if r[2] in verdicts}

    def iter_json(self) -> Iterator[bytes]:
        """One JSON line (a :class:`TraceAudit`) per trace, without building models."""
        for row in self.rows:
            yield orjson.dumps({"schema_version": AUDIT_SCHEMA_VERSION, **_row_fields(row)})


def _row_fields(row: AuditRow) -> dict[str, Any]:
    """A compact row's :class:`TraceAudit` fields (schema_version aside)."""
    tid, tc, verdict, n, flags = row
    return {
        "trace_id": tid,
        "task_class": tc,
        "verdict": verdict,
        "n_steps": n,
        "flags": [
            {"code": c, "step_id": sid, "reason": why, "severity": sev}
            for c, sid, why, sev in flags
        ],
    }


def row_to_audit(row: AuditRow) -> TraceAudit:
    """The :class:`TraceAudit` of a compact row."""
    return TraceAudit.model_validate(_row_fields(row))
