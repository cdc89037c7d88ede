"""Target configuration: one OpenAI-compatible endpoint and a pinned model."""

from __future__ import annotations

import os
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nullband.errors import UsageError
from nullband.targets.http1 import header_problem

GatewayKind = Literal["none", "bifrost", "litellm", "portkey"]


class Prices(BaseModel):
    """Prices in USD per million tokens."""

    model_config = ConfigDict(extra="forbid")

    input_per_mtok: float = Field(default=0.0, ge=0.0, description="USD per 1M input tokens.")
    output_per_mtok: float = Field(default=0.0, ge=0.0, description="USD per 1M output tokens.")
    cached_input_per_mtok: float | None = Field(
        default=None, ge=0.0, description="USD per 1M cached input tokens (default: input price)."
    )

    def cost(self, input_tokens: int, output_tokens: int, cached_tokens: int = 0) -> float:
        """Cost in USD of one call's usage."""
        cached_price = (
            self.input_per_mtok
            if self.cached_input_per_mtok is None
            else self.cached_input_per_mtok
        )
        uncached = max(0, input_tokens - cached_tokens)
        return (
            uncached * self.input_per_mtok
            + cached_tokens * cached_price
            + output_tokens * self.output_per_mtok
        ) / 1e6


class TargetConfig(BaseModel):
    """One model endpoint under test (or used as a judge)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="Name used in reports and exports.")
    base_url: str = Field(description="OpenAI-compatible base URL, e.g. http://127.0.0.1:8080/v1.")
    model: str = Field(min_length=1, description="Exact, pinned model string.")
    api_key_env: str | None = Field(
        default=None,
        description="Environment variable holding the API key; the key is never stored.",
    )
    headers: dict[str, str] = Field(default_factory=dict, description="Extra HTTP headers.")
    gateway: GatewayKind = Field(
        default="none", description="Gateway kind: sets cache bypass and provenance headers."
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="Sampling params merged into each request body."
    )
    system_prompt: str | None = Field(
        default=None,
        description="A system message sent before each case's own messages (a prompt "
        "variant under test); part of the request hash, not of the case hash.",
    )
    stream: bool = Field(
        default=False, description="Stream responses (records time to first token)."
    )
    concurrency: int = Field(default=16, ge=1, description="Most calls in flight at once.")
    rpm: float | None = Field(default=None, gt=0, description="Requests-per-minute limit.")
    timeout_s: float = Field(default=60.0, gt=0, description="Per-attempt timeout in seconds.")
    prices: Prices = Field(default_factory=Prices, description="Prices for cost accounting.")
    allow_alias: bool = Field(
        default=False, description="Silence the floating-alias warning for this target's model."
    )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        url = urlsplit(v)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"{v!r} is not an http:// or https:// URL with a host")
        try:
            url.port  # noqa: B018 (a port out of range raises here)
        except ValueError as exc:
            raise ValueError(f"{v!r}: {exc}") from None
        if url.query or url.fragment:
            raise ValueError(f"{v!r}: give the base URL without a query or fragment")
        return v

    @field_validator("headers")
    @classmethod
    def _no_line_breaks(cls, v: dict[str, str]) -> dict[str, str]:
        for name, value in v.items():
            problem = header_problem(name, value)
            if problem is not None:
                raise ValueError(problem)
        return v

    def api_key(self) -> str | None:
        """The key from the environment.

        Raises:
            UsageError: ``api_key_env`` is set but the variable is not.
        """
        if self.api_key_env is None:
            return None
        value = os.environ.get(self.api_key_env)
        if not value:
            raise UsageError(
                f"target {self.name!r}: environment variable {self.api_key_env} is not set",
                hint=f"export {self.api_key_env}=... (the key is read from the environment "
                "and never written anywhere)",
            )
        return value
