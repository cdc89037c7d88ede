"""The records exchanged between stages (DESIGN.md, "Record" and "Results file").

Field names are part of the product's interface; change them only with a schema version
bump and a migration.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RECORD_SCHEMA_VERSION = 1
RESULTS_SCHEMA_VERSION = 1

ErrorClass = Literal[
    "rate_limit", "server", "timeout", "connection", "malformed", "client", "budget", "other"
]
CacheStatus = Literal["hit", "miss", "bypass", "unknown"]
RecordStatus = Literal["ok", "error"]


class Usage(BaseModel):
    """Token usage reported by the server for one call."""

    input_tokens: int = Field(default=0, description="Prompt tokens billed.")
    output_tokens: int = Field(default=0, description="Completion tokens billed.")
    cached_tokens: int = Field(default=0, description="Prompt tokens served from a prompt cache.")


class Attempt(BaseModel):
    """One HTTP attempt of a call; a call has one or more."""

    n: int = Field(description="1-based attempt number.")
    started_at: datetime = Field(description="UTC time the attempt was sent.")
    latency_s: float | None = Field(default=None, description="Seconds until the attempt ended.")
    status: int | None = Field(default=None, description="HTTP status, or null if none came back.")
    error_class: ErrorClass | None = Field(
        default=None, description="Why the attempt failed; null when it succeeded."
    )
    error: str | None = Field(default=None, description="The failure in words (no secrets).")
    retry_after_s: float | None = Field(
        default=None, description="The server's Retry-After, when it sent one."
    )


class Provenance(BaseModel):
    """Which model actually served a call."""

    requested: str = Field(description="The pinned model string sent in the request.")
    routed: str | None = Field(
        default=None, description="The model a gateway says it routed to (from its headers)."
    )
    served: str | None = Field(default=None, description="`response.model` as returned.")
    fingerprint: str | None = Field(default=None, description="`system_fingerprint`, if any.")
    provider: str | None = Field(default=None, description="Provider that served, per the gateway.")
    cache: CacheStatus = Field(default="unknown", description="Gateway response-cache status.")
    fallback: bool = Field(default=False, description="True when a gateway says a fallback fired.")
    mismatch: bool = Field(
        default=False,
        description="True when the served (or routed) model differs from the pinned one.",
    )
    gateway_retries: int | None = Field(
        default=None,
        description="Retries the gateway made itself for this call, from its headers (None "
        "when no gateway or it did not say). nullband's own attempts are in Record.attempts.",
    )


class ToolCall(BaseModel):
    """One tool call as the model emitted it (arguments kept as the raw JSON string)."""

    id: str | None = Field(default=None, description="The call id the model gave.")
    name: str = Field(description="Function name.")
    arguments: str = Field(default="", description="Arguments as the raw JSON text the model sent.")


class Record(BaseModel):
    """One call of one case on one target in one epoch."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = Field(default=RECORD_SCHEMA_VERSION, description="Record schema version.")
    run_id: str = Field(description="The run this record belongs to.")
    case_id: str = Field(description="The case's id.")
    case_hash: str = Field(description="Hash of the case's content (Case.content_hash()).")
    epoch: int = Field(default=0, ge=0, description="0-based repeat number.")
    target: str = Field(description="Target name from the config.")
    request_hash: str = Field(
        description="Hash of the request body sent (model, messages, params)."
    )
    status: RecordStatus = Field(description="'ok' when a response was obtained, else 'error'.")
    output_text: str | None = Field(default=None, description="Assistant message content.")
    tool_calls: list[ToolCall] = Field(default_factory=list, description="Tool calls emitted.")
    messages: list[dict[str, Any]] | None = Field(
        default=None,
        description="The full transcript for multi-step trajectories (null for single calls).",
    )
    finish_reason: str | None = Field(default=None, description="The choice's finish_reason.")
    usage: Usage = Field(default_factory=Usage, description="Token usage.")
    latency_s: float | None = Field(default=None, description="Seconds of the successful attempt.")
    ttft_s: float | None = Field(default=None, description="Seconds to first token (streaming).")
    attempts: list[Attempt] = Field(default_factory=list, description="Every attempt made.")
    cost_usd: float = Field(default=0.0, description="Cost of all attempts from the prices.")
    provenance: Provenance = Field(description="Which model actually served.")
    error: str | None = Field(default=None, description="Why the call failed, when status='error'.")
    error_class: ErrorClass | None = Field(default=None, description="Class of the final error.")
    scores: dict[str, float | None] = Field(
        default_factory=dict, description='Scores per metric, e.g. {"pass": 1, "arg_f1": 0.83}.'
    )
    score_reasons: dict[str, str] = Field(
        default_factory=dict, description="Why a scorer failed or could not score, per scorer."
    )
    created_at: datetime = Field(description="UTC time the record was completed.")


class ModelInfo(BaseModel):
    """The model block of a results row."""

    requested: str | None = Field(default=None, description="Pinned model string requested.")
    served: str | None = Field(default=None, description="Model the server said served.")
    fingerprint: str | None = Field(default=None, description="system_fingerprint, if any.")


class ResultRow(BaseModel):
    """One line of a results file: the interchange format that `compare` reads."""

    model_config = ConfigDict(extra="ignore")

    schema_version: int = Field(
        default=RESULTS_SCHEMA_VERSION, description="Results file schema version."
    )
    case_id: str = Field(description="The case's id.")
    case_hash: str | None = Field(default=None, description="Content hash of the case, if known.")
    epoch: int = Field(default=0, ge=0, description="0-based repeat number.")
    segments: dict[str, str] = Field(default_factory=dict, description="Segment tags of the case.")
    weight: float = Field(default=1.0, ge=0.0, description="Weight of the case.")
    adversarial: bool = Field(default=False, description="Adversarial-set membership.")
    cluster: str | None = Field(default=None, description="Cluster id for non-independent cases.")
    scores: dict[str, float | None] = Field(default_factory=dict, description="Scores per metric.")
    model: ModelInfo = Field(default_factory=ModelInfo, description="Provenance summary.")
    error: str | None = Field(default=None, description="Why the call failed, if it did.")
