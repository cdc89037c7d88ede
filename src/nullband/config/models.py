"""The eval config (YAML): suites, targets, scorers, retries, budget and store."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from nullband.targets.config import TargetConfig


class SuiteRef(BaseModel):
    """A suite file with an optional weight applied to each of its cases."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(description="Path to a JSONL suite, relative to the config file.")
    weight: float | None = Field(
        default=None, ge=0.0, description="Overrides each case's weight (e.g. 3 for adversarial)."
    )


class ScorerSpec(BaseModel):
    """A scorer by name (built-in, entry point or dotted path) with its options."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Built-in name, entry-point name, or 'module:attribute'.")
    options: dict[str, Any] = Field(default_factory=dict, description="Scorer options.")


class RetryConfig(BaseModel):
    """Retries on 429, 5xx, timeouts and connection errors; never with another model."""

    model_config = ConfigDict(extra="forbid")

    max_attempts: int = Field(default=6, ge=1, description="Attempts per call, first included.")
    base_delay_s: float = Field(default=0.5, ge=0.0, description="First backoff delay.")
    max_delay_s: float = Field(default=30.0, ge=0.0, description="Largest backoff delay.")
    jitter: float = Field(default=0.5, ge=0.0, le=1.0, description="Fraction of random jitter.")


class BudgetConfig(BaseModel):
    """Spending caps per run; once reached no new call starts."""

    model_config = ConfigDict(extra="forbid")

    usd: float | None = Field(default=None, gt=0, description="USD cap, from prices x usage.")
    tokens: int | None = Field(default=None, gt=0, description="Cap on input+output tokens.")


class EvalConfig(BaseModel):
    """An eval config: what to run, against what, and where to store it."""

    model_config = ConfigDict(extra="forbid")

    suite: str | list[str | SuiteRef] = Field(description="One suite path, or a list of suites.")
    epochs: int = Field(default=1, ge=1, description="Repeats of each case per target.")
    targets: list[TargetConfig] = Field(min_length=1, description="Endpoints to run.")
    scorers: list[str | ScorerSpec] = Field(
        default_factory=lambda: list[str | ScorerSpec](["exact"]),
        description="Scorers applied to each record.",
    )
    retries: RetryConfig = Field(default_factory=RetryConfig, description="Retry policy.")
    budget: BudgetConfig = Field(default_factory=BudgetConfig, description="Spending caps.")
    store: str = Field(default=".nullband/runs.db", description="SQLite path or postgresql:// URL.")
    alias_allow: list[str] = Field(
        default_factory=list, description="Model strings allowed even though they look floating."
    )
    seed: int = Field(default=0, description="Seed for the runner's random choices (jitter).")
    max_steps: int = Field(
        default=8, ge=1, description="Step limit when playing back multi-step trajectories."
    )

    @model_validator(mode="after")
    def _unique_targets(self) -> EvalConfig:
        names = [t.name for t in self.targets]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"target names must be unique; repeated: {', '.join(dup)}")
        return self

    def suite_refs(self) -> list[SuiteRef]:
        """The suites as a list of :class:`SuiteRef`."""
        items = [self.suite] if isinstance(self.suite, str) else self.suite
        return [SuiteRef(path=i) if isinstance(i, str) else i for i in items]

    def scorer_specs(self) -> list[ScorerSpec]:
        """The scorers as a list of :class:`ScorerSpec`."""
        return [ScorerSpec(name=s) if isinstance(s, str) else s for s in self.scorers]
