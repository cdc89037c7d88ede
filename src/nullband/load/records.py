"""Per-request load records: raw client timestamps, stream events and server usage.

Times are integer nanoseconds of ``CLOCK_MONOTONIC`` measured from the run's ``t0``
(the instant that schedule offset 0 maps to); the summary keeps the ``t0`` anchor with
its UTC wall time. Every metric in the summary is recomputable from these records.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

REQUEST_SCHEMA_VERSION = 1

RequestStatus = Literal[
    "ok", "http_error", "timeout", "connect_error", "stream_error", "incomplete", "not_sent"
]
TokenSource = Literal["usage", "chunks"]


class RequestRecord(BaseModel):
    """One request of a load run, as the client saw it."""

    schema_version: int = Field(
        default=REQUEST_SCHEMA_VERSION, description="Request record schema version."
    )
    idx: int = Field(description="Position in the schedule.")
    id: str = Field(description="Request id from the trace, or the index.")
    tenant: str = Field(description="Tenant label.")
    prefix_id: str | None = Field(default=None, description="Shared-prefix group id.")
    proc: int = Field(default=0, description="Client process that sent it (0-based).")
    warmup: bool = Field(default=False, description="True when planned inside the warm-up.")
    prompt_tokens_target: int = Field(description="Prompt length the trace asked for.")
    output_tokens_target: int = Field(description="Pinned output length.")
    planned_ns: int = Field(description="Planned send time (ns after t0).")
    dispatch_ns: int | None = Field(
        default=None, description="When the scheduler released it (ns after t0)."
    )
    call_ns: int | None = Field(
        default=None,
        description="The client issued the POST (ns after t0); dispatch lag is measured here.",
    )
    send_ns: int | None = Field(
        default=None,
        description="The request body reached the socket (ns after t0); TTFT and E2E are "
        "measured from here, so the client's own request building is not counted as "
        "server latency.",
    )
    headers_ns: int | None = Field(default=None, description="Response status line received.")
    first_event_ns: int | None = Field(
        default=None, description="First SSE event with choices (may carry no token)."
    )
    first_token_ns: int | None = Field(default=None, description="First event carrying tokens.")
    last_token_ns: int | None = Field(default=None, description="Last event carrying tokens.")
    end_ns: int | None = Field(default=None, description="[DONE] or end of the stream.")
    event_us: list[int] = Field(
        default_factory=list, description="Each event with choices: µs after send_ns."
    )
    event_tokens: list[int] = Field(
        default_factory=list, description="Tokens each event carried (same order as event_us)."
    )
    token_source: TokenSource = Field(
        default="chunks",
        description="'usage': per-event deltas of usage.completion_tokens; "
        "'chunks': one token per non-empty delta (a fallback).",
    )
    events_per_read_max: int = Field(
        default=0, description="Most token events delivered by one socket read."
    )
    prompt_tokens: int | None = Field(default=None, description="Server usage.prompt_tokens.")
    completion_tokens: int | None = Field(
        default=None, description="Server usage.completion_tokens."
    )
    cached_tokens: int | None = Field(
        default=None, description="Server usage.prompt_tokens_details.cached_tokens."
    )
    finish_reason: str | None = Field(default=None, description="The choice's finish_reason.")
    http_status: int | None = Field(default=None, description="HTTP status, if a response came.")
    status: RequestStatus = Field(description="Outcome of the request.")
    error: str | None = Field(default=None, description="The failure in words.")
    inflight_at_send: int = Field(default=0, description="Requests in flight in this process.")

    @property
    def tokens_out(self) -> int:
        """Output tokens: the server's count when sent, else the sum of event deltas."""
        if self.completion_tokens is not None:
            return self.completion_tokens
        return sum(self.event_tokens)

    @property
    def length_ok(self) -> bool:
        """True when the server generated exactly the pinned output length."""
        return self.tokens_out == self.output_tokens_target
