"""The normalised trace schema every ingest adapter writes and every later stage reads.

One :class:`Step` is one model call, tool call or agent step (an OpenTelemetry span, a
gateway log row, ...). A :class:`Trace` is the steps of one end-to-end task, grouped by
``trace_id``. The generic JSONL input format is one ``Step`` per line (see docs/traces.md),
so the output of ``nullband traces ingest`` can be read back without loss.

Messages are kept in the OpenAI chat shape (``{"role", "content", "tool_calls"}``), the
shape suites and fine-tuning files use; OpenTelemetry ``parts`` messages are converted on
ingest.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

TRACE_SCHEMA_VERSION = 1

StepKind = Literal["llm", "tool", "agent", "workflow", "embedding", "retrieval", "other"]
StepStatus = Literal["ok", "error"]
SourceKind = Literal["otel", "litellm", "bifrost", "generic"]


class StepUsage(BaseModel):
    """Token usage of one model call."""

    input_tokens: int = Field(default=0, description="Prompt tokens (including cached ones).")
    output_tokens: int = Field(default=0, description="Completion tokens (including reasoning).")
    cache_read_tokens: int = Field(
        default=0, description="Prompt tokens read from a provider prefix cache (info only)."
    )
    cache_write_tokens: int = Field(
        default=0, description="Prompt tokens written to a provider prefix cache."
    )


class Step(BaseModel):
    """One model call, tool call or agent step of a trace (one line of generic JSONL)."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = Field(default=TRACE_SCHEMA_VERSION, description="Step schema version.")
    trace_id: str = Field(min_length=1, description="The end-to-end task this step belongs to.")
    step_id: str = Field(min_length=1, description="Unique id of the step (span id, log row id).")
    parent_id: str | None = Field(default=None, description="The parent step, if any.")
    kind: StepKind = Field(default="llm", description="What the step is.")
    name: str | None = Field(default=None, description="Span or operation name.")
    task_class: str | None = Field(
        default=None,
        description="The kind of task (agent/workflow/prompt name); timing medians are per class.",
    )
    segments: dict[str, str] = Field(
        default_factory=dict, description='Tag dimensions, e.g. {"customer": "acme"}.'
    )
    started_at: datetime | None = Field(default=None, description="UTC start time.")
    duration_ms: float | None = Field(default=None, ge=0.0, description="Wall time in ms.")
    ttft_ms: float | None = Field(default=None, ge=0.0, description="Time to first token, ms.")
    status: StepStatus = Field(default="ok", description="'error' when the step failed.")
    error_type: str | None = Field(default=None, description="Error class, when it failed.")
    error_message: str | None = Field(default=None, description="Error text, when it failed.")
    provider_requested: str | None = Field(default=None, description="Provider asked for.")
    provider_served: str | None = Field(default=None, description="Provider that served.")
    model_requested: str | None = Field(default=None, description="Model (or alias) requested.")
    model_routed: str | None = Field(
        default=None, description="Model a gateway routed to (its headers or log row)."
    )
    model_served: str | None = Field(default=None, description="`response.model` as returned.")
    system_fingerprint: str | None = Field(default=None, description="`system_fingerprint`.")
    fallback_index: int = Field(
        default=0, ge=0, description="0 when the primary served; n when the n-th fallback did."
    )
    retry_count: int = Field(default=0, ge=0, description="Retries before the answer came.")
    cache_hit: bool = Field(default=False, description="A gateway response cache served it.")
    cache_kind: str | None = Field(
        default=None, description="'direct', 'semantic' or the gateway's word for the cache."
    )
    usage: StepUsage = Field(default_factory=StepUsage, description="Token usage.")
    cost_usd: float | None = Field(default=None, ge=0.0, description="Cost in USD, if logged.")
    input_messages: list[dict[str, Any]] = Field(
        default_factory=list, description="Chat messages sent (OpenAI shape)."
    )
    output_message: dict[str, Any] | None = Field(
        default=None, description="The assistant message returned (OpenAI shape, tool_calls)."
    )
    tool_definitions: list[dict[str, Any]] = Field(
        default_factory=list, description="Tools offered to the model (OpenAI tool shape)."
    )
    tool_name: str | None = Field(default=None, description="Tool executed (kind='tool').")
    tool_call_id: str | None = Field(default=None, description="The model's id for the call.")
    tool_arguments: Any = Field(
        default=None, description="Arguments of the tool execution (JSON text or object)."
    )
    tool_result: Any = Field(default=None, description="What the tool returned.")
    source: SourceKind = Field(default="generic", description="The format it was read from.")
    source_ref: str | None = Field(default=None, description="file:line it was read from.")
    attributes: dict[str, Any] = Field(
        default_factory=dict, description="Other source attributes kept for reference."
    )


class Trace(BaseModel):
    """The steps of one end-to-end task, in start order."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = Field(default=TRACE_SCHEMA_VERSION, description="Trace schema version.")
    trace_id: str = Field(description="The task's id.")
    task_class: str | None = Field(default=None, description="First task_class among the steps.")
    segments: dict[str, str] = Field(
        default_factory=dict, description="Union of the steps' segments."
    )
    steps: list[Step] = Field(description="The steps, in input (file) order.")

    @property
    def outcome(self) -> StepStatus:
        """'error' when the last step to start failed, else 'ok'."""
        if not self.steps:
            return "ok"
        last = max(
            enumerate(self.steps),
            key=lambda p: (p[1].started_at.timestamp() if p[1].started_at else float("inf"), p[0]),
        )
        return last[1].status

    @classmethod
    def from_steps(cls, steps: list[Step]) -> Trace:
        """Build a trace from its steps (all with the same ``trace_id``)."""
        items = list(steps)
        task_class = next((s.task_class for s in items if s.task_class), None)
        segments: dict[str, str] = {}
        for s in items:
            segments.update(s.segments)
        return cls(
            trace_id=items[0].trace_id if items else "",
            task_class=task_class,
            segments=segments,
            steps=items,
        )
