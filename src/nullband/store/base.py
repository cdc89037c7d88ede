"""The store contract: runs and their records, durable once a write returns.

One implementation (:mod:`nullband.store.sql`) serves SQLite files and PostgreSQL URLs
through SQLAlchemy Core. Everything else in nullband talks to a store through this
protocol only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from nullband.records import Record
from nullband.suite.case import Case

RunStatus = Literal["running", "completed", "stopped_budget", "interrupted", "failed"]


class RunInfo(BaseModel):
    """One run: a config executed (possibly in shards, possibly resumed)."""

    run_id: str = Field(description="Sortable run id.")
    created_at: datetime = Field(description="UTC creation time.")
    updated_at: datetime = Field(description="UTC time of the last status change.")
    status: RunStatus = Field(description="Where the run stands.")
    config_path: str | None = Field(default=None, description="Config file the run came from.")
    config_hash: str = Field(description="Hash of the resolved config (keys excluded).")
    config: dict[str, Any] = Field(
        default_factory=dict, description="The resolved config (never holds a key)."
    )
    targets: dict[str, str] = Field(
        default_factory=dict, description="Target name -> pinned model."
    )
    n_cases: int = Field(default=0, description="Cases in the suite(s).")
    epochs: int = Field(default=1, description="Epochs per case and target.")
    cases: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Case id -> {hash, segments, weight, adversarial, cluster} for exports.",
    )
    note: str | None = Field(default=None, description="Why the run stopped, when it did.")


RecordKey = tuple[str, str, int]
"""(case_id, target, epoch): the unit that a resumed run never calls twice."""


class Store(Protocol):
    """Where runs and records live."""

    def create_run(self, run: RunInfo) -> None:
        """Insert a new run. Raises StoreError if the id exists."""
        ...

    def ensure_run(self, run: RunInfo) -> tuple[RunInfo, bool]:
        """Insert the run unless its id exists; returns (the stored run, created?).

        For shards: several processes may call it at once; exactly one creates the run.
        """
        ...

    def get_run(self, run_id: str) -> RunInfo | None:
        """The run with its case metadata, or None."""
        ...

    def list_runs(self, limit: int = 50, *, with_cases: bool = False) -> list[RunInfo]:
        """Most recent runs first; ``cases`` is left empty unless ``with_cases``."""
        ...

    def write_cases(self, run_id: str, cases: Iterable[Case]) -> None:
        """Store the run's case bodies (``nullband score`` re-scores from them).

        Metadata already given in ``RunInfo.cases`` is kept; idempotent.
        """
        ...

    def iter_cases(self, run_id: str) -> Iterator[Case]:
        """The run's stored case bodies, by case id."""
        ...

    def set_status(self, run_id: str, status: RunStatus, note: str | None = None) -> None:
        """Record a status change."""
        ...

    def write_records(
        self, records: Sequence[Record], *, judge_spend: tuple[float, int] | None = None
    ) -> None:
        """Insert or replace records by (run_id, case_id, target, epoch), in one transaction.

        Durable when this returns. ``judge_spend`` (USD, tokens) is added to the run's
        judge spend in the same transaction; ``spend`` includes it.
        """
        ...

    def completed_keys(self, run_id: str) -> set[RecordKey]:
        """Keys of records with status 'ok'."""
        ...

    def iter_records(self, run_id: str, target: str | None = None) -> Iterator[Record]:
        """Records of a run (one target, or all), ordered by case id, target, epoch."""
        ...

    def update_scores(
        self,
        run_id: str,
        scores: Iterable[tuple[RecordKey, dict[str, float | None], dict[str, str]]],
    ) -> None:
        """Replace the scores and score reasons of existing records."""
        ...

    def spend(self, run_id: str) -> tuple[float, int]:
        """(USD, tokens) spent so far by a run: its records and its judge calls."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
