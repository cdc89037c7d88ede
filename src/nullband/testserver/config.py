"""Configuration of the test server: latency, faults, model switch, gateway style, rules.

A script file (YAML or JSON) is a :class:`ServerConfig`; CLI flags override its fields.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from nullband.config import load_yaml_model

GatewayStyle = Literal["none", "bifrost", "litellm", "portkey"]
TokenizerKind = Literal["words", "bytes"]


class DelayDistribution(BaseModel):
    """A random extra delay added to the time to first token of every request.

    ``uniform`` draws from [low, high]; ``exponential`` has mean ``mean``; ``lognormal``
    has median ``median`` and shape ``sigma``; ``normal`` has ``mean`` and ``sd`` (cut at 0).
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["uniform", "exponential", "lognormal", "normal"] = Field(
        description="Distribution family."
    )
    low: float = Field(default=0.0, ge=0.0, description="uniform: lower bound in seconds.")
    high: float = Field(default=0.0, ge=0.0, description="uniform: upper bound in seconds.")
    mean: float = Field(default=0.0, ge=0.0, description="exponential/normal: mean in seconds.")
    sd: float = Field(default=0.0, ge=0.0, description="normal: standard deviation in seconds.")
    median: float = Field(default=0.0, ge=0.0, description="lognormal: median in seconds.")
    sigma: float = Field(default=0.5, ge=0.0, description="lognormal: shape (sd of the log).")


class LatencyConfig(BaseModel):
    """When tokens are sent.

    Streaming: the first chunk (role and first token) is written ``ttft_s`` (+ a random
    ``extra`` draw) after the request arrived, token *i* at ``ttft + i * per_token_s``; the
    deadlines are absolute, so sleeps never accumulate error. Non-streaming: the whole body
    is sent when the last token would have been.
    """

    model_config = ConfigDict(extra="forbid")

    ttft_s: float = Field(default=0.0, ge=0.0, description="Time to first token in seconds.")
    per_token_s: float = Field(
        default=0.0, ge=0.0, description="Delay between successive tokens in seconds."
    )
    extra: DelayDistribution | None = Field(
        default=None, description="Random extra delay added to the time to first token."
    )


class FaultConfig(BaseModel):
    """Fault injection: each chat request draws one fault (or none) from these rates.

    The draw is a hash of (seed, case key, attempt number for that key) when the request
    carries ``X-Nullband-Case``, else of (seed, request number), so the same seed injects
    the same faults into the same attempts regardless of arrival order.
    """

    model_config = ConfigDict(extra="forbid")

    rate_429: float = Field(default=0.0, ge=0.0, le=1.0, description="429 with Retry-After.")
    rate_500: float = Field(default=0.0, ge=0.0, le=1.0, description="500 Internal Server Error.")
    rate_503: float = Field(default=0.0, ge=0.0, le=1.0, description="503 Service Unavailable.")
    rate_timeout: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Hang for hang_s before answering (timeouts)."
    )
    rate_reset: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Reset the connection without any response."
    )
    rate_malformed: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Status 200 with a body that is not valid JSON (streams: a bad chunk).",
    )
    rate_truncate: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Cut the response off half-way (streams: no final chunk and no [DONE]).",
    )
    retry_after_s: float = Field(
        default=1.0, ge=0.0, description="Value of the Retry-After header on 429 responses."
    )
    hang_s: float = Field(
        default=600.0, gt=0.0, description="How long a timeout fault hangs before answering 504."
    )
    seed: int = Field(default=0, description="Seed of the fault draws.")

    @model_validator(mode="after")
    def _sum_at_most_one(self) -> FaultConfig:
        if self.total() > 1.0 + 1e-12:
            raise ValueError(f"fault rates add up to {self.total():.4f}; they must be at most 1")
        return self

    def total(self) -> float:
        """Sum of all fault rates."""
        return (
            self.rate_429
            + self.rate_500
            + self.rate_503
            + self.rate_timeout
            + self.rate_reset
            + self.rate_malformed
            + self.rate_truncate
        )


class ModelSwitch(BaseModel):
    """A served-model switch: an alias repointed after ``after`` chat requests."""

    model_config = ConfigDict(extra="forbid")

    after: int = Field(ge=0, description="Chat requests served before the switch.")
    served_model: str = Field(min_length=1, description="`response.model` after the switch.")
    fingerprint: str = Field(
        default="fp_nullband_switched", description="`system_fingerprint` after the switch."
    )


class GatewayConfig(BaseModel):
    """Answer as a gateway would: provenance headers (and Bifrost's ``extra_fields``)."""

    model_config = ConfigDict(extra="forbid")

    style: GatewayStyle = Field(default="none", description="Header style to emit.")
    provider: str = Field(default="nullband", description="Provider named as the one that served.")
    fallback_rate: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Share of requests served by the fallback."
    )
    fallback_provider: str = Field(default="fallback", description="Provider of the fallback.")
    fallback_model: str = Field(
        default="fallback-model-2026-01-01", description="Model the fallback serves."
    )
    cache_hit_rate: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Share of requests answered from the gateway's response cache "
        "(unless the request asked to bypass the cache).",
    )


class ToolCallSpec(BaseModel):
    """A tool call a rule replies with."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="Function name.")
    arguments: dict[str, Any] | str = Field(
        default_factory=dict, description="Arguments: an object, or raw JSON text sent as is."
    )
    id: str | None = Field(default=None, description="Call id; generated when absent.")


class Rule(BaseModel):
    """A scripted reply. Rules are tried in order; the first that matches answers.

    A rule matches when every condition it has holds: ``case`` (a glob on the case id, the
    first part of ``X-Nullband-Case``, or on the whole key) and ``match`` (a regex searched
    in the last user message). A rule with no condition matches every request.
    """

    model_config = ConfigDict(extra="forbid")

    case: str | None = Field(default=None, description="Glob on the case id or the case key.")
    match: str | None = Field(default=None, description="Regex searched in the last user message.")
    content: str | None = Field(default=None, description="Assistant text to reply with.")
    tool_calls: list[ToolCallSpec] | None = Field(
        default=None, description="Tool calls to reply with."
    )
    finish_reason: str | None = Field(
        default=None, description="finish_reason (default: stop, or tool_calls)."
    )
    status: int = Field(
        default=200, ge=200, le=599, description="HTTP status; not 200 answers with an error."
    )
    times: int | None = Field(
        default=None,
        ge=1,
        description="Apply only to the first N matching requests of each case key.",
    )

    @field_validator("match")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value


class ServerConfig(BaseModel):
    """Everything the test server does; also the schema of a ``--script`` file."""

    model_config = ConfigDict(extra="forbid")

    served_model: str | None = Field(
        default=None,
        description="`response.model`; null echoes the requested model "
        "(without a 'provider/' prefix when a gateway style is set).",
    )
    fingerprint: str = Field(default="fp_nullband", description="`system_fingerprint`.")
    switch: ModelSwitch | None = Field(default=None, description="Served-model switch.")
    latency: LatencyConfig = Field(default_factory=LatencyConfig, description="Timing.")
    faults: FaultConfig = Field(default_factory=FaultConfig, description="Fault injection.")
    gateway: GatewayConfig = Field(default_factory=GatewayConfig, description="Gateway style.")
    rules: list[Rule] = Field(default_factory=list, description="Scripted replies, in order.")
    default_content: str | None = Field(
        default=None,
        description="Reply when no rule matches; null echoes the last user message.",
    )
    tokenizer: TokenizerKind = Field(
        default="words",
        description="How text is cut into tokens: 'words' (a word with its leading "
        "whitespace) or 'bytes' (one token per UTF-8 byte).",
    )
    embedding_dim: int = Field(default=64, ge=1, le=4096, description="Embedding size.")
    max_model_len: int = Field(default=8192, ge=1, description="Context length reported.")
    max_running: int | None = Field(
        default=None,
        ge=1,
        description="Requests decoded at once; more wait in a queue (shows in /metrics).",
    )
    kv_cache_tokens: int = Field(
        default=262144, ge=1, description="KV-cache size in tokens, for the cache-usage gauge."
    )
    api_key: str | None = Field(
        default=None, description="When set, requests must send 'Authorization: Bearer <key>'."
    )


def load_script(path: str | Path) -> ServerConfig:
    """Read a YAML or JSON script file into a :class:`ServerConfig`.

    Raises:
        ConfigError: the file is unreadable or invalid (names the line and field).

    Example:
        >>> cfg = load_script("examples/testserver/script.yaml")  # doctest: +SKIP
    """
    return load_yaml_model(path, ServerConfig)
