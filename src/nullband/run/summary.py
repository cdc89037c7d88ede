"""What one invocation of a run did (returned by ``run_eval``, printed by ``nullband run``)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from nullband.store.base import RunStatus


class RunSummary(BaseModel):
    """The outcome of one ``run_eval`` call (one process; one shard when sharded)."""

    run_id: str = Field(description="The run written to.")
    status: RunStatus = Field(description="The run's status after this invocation.")
    store: str = Field(description="Where the records are (password hidden).")
    shard: str | None = Field(default=None, description="'i/n' when this process ran a shard.")
    resumed: bool = Field(default=False, description="True when the run existed before.")
    total: int = Field(description="(case, target, epoch) keys in this process's share.")
    skipped: int = Field(description="Keys already completed before this invocation.")
    ok: int = Field(default=0, description="Calls stored with status 'ok' now.")
    errors: int = Field(default=0, description="Calls stored with status 'error' now.")
    not_started: int = Field(default=0, description="Keys left uncalled (budget or interrupt).")
    spend_usd: float = Field(
        default=0.0, description="USD spent by this invocation (eval calls and judge calls)."
    )
    judge_spend_usd: float = Field(
        default=0.0, description="Part of spend_usd spent by judge scorers' calls."
    )
    run_spend_usd: float = Field(
        default=0.0,
        description="USD spent by the whole run so far: stored records' spend before this "
        "invocation plus this invocation's (judge spend of earlier invocations is not stored).",
    )
    tokens: int = Field(
        default=0, description="Input + output tokens used by this invocation (judges included)."
    )
    elapsed_s: float = Field(default=0.0, description="Wall time of this invocation.")
    served_models: dict[str, list[str]] = Field(
        default_factory=dict, description="Target -> served models seen in this invocation."
    )
    mismatches: int = Field(
        default=0, description="Calls whose served or routed model differs from the pinned one."
    )
    note: str | None = Field(default=None, description="Why the run stopped, when it did.")

    @property
    def rate(self) -> float:
        """Calls stored per second."""
        n = self.ok + self.errors
        return n / self.elapsed_s if self.elapsed_s > 0 else 0.0
