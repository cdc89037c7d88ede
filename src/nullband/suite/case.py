"""The Case record: one line of a suite JSONL file (DESIGN.md, "Case")."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from nullband._canonical import content_hash


class Case(BaseModel):
    """One eval case. Exactly one of ``input`` and ``prompt`` is given."""

    model_config = ConfigDict(extra="forbid", frozen=False)

    id: str = Field(min_length=1, description="Unique id of the case within its suite.")
    input: list[dict[str, Any]] | None = Field(
        default=None, description="OpenAI chat messages sent to the model."
    )
    prompt: str | None = Field(
        default=None, description="A plain prompt; sent as one user message."
    )
    tools: list[dict[str, Any]] | None = Field(
        default=None, description="OpenAI tool definitions offered to the model."
    )
    tool_results: list[dict[str, Any]] | None = Field(
        default=None,
        description="Recorded tool outputs, played back to the model for multi-step trajectories.",
    )
    expected: Any = Field(
        default=None,
        description="The gold answer: text, a JSON value, a list of tool calls or a field map.",
    )
    segments: dict[str, str] = Field(
        default_factory=dict,
        description='Tag dimensions for per-segment tables, e.g. {"customer": "acme"}.',
    )
    weight: float = Field(default=1.0, ge=0.0, description="Weight of the case in weighted means.")
    adversarial: bool = Field(
        default=False, description="Whether the case belongs to the permanent adversarial set."
    )
    cluster: str | None = Field(
        default=None,
        description="Cases sharing a cluster are not independent (e.g. turns of one conversation).",
    )
    metadata: dict[str, Any] = Field(
        default_factory=dict, description="Free-form data carried along; never sent to the model."
    )
    scorers: list[str] | None = Field(
        default=None,
        description="Scorer names for this case, overriding the config's list (optional).",
    )

    @model_validator(mode="after")
    def _one_input(self) -> Case:
        if (self.input is None) == (self.prompt is None):
            raise ValueError("give exactly one of 'input' (chat messages) or 'prompt' (a string)")
        return self

    def messages(self) -> list[dict[str, Any]]:
        """The chat messages to send: ``input`` as given, or ``prompt`` as one user message."""
        if self.input is not None:
            return self.input
        return [{"role": "user", "content": self.prompt}]

    def content_hash(self) -> str:
        """Hash of what the model sees and what it is scored against (not id, tags or weight)."""
        return content_hash(
            {
                "messages": self.messages(),
                "tools": self.tools,
                "tool_results": self.tool_results,
                "expected": self.expected,
            }
        )
