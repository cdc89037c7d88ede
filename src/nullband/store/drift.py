"""The drift view: which models and fingerprints actually served, and where that changed.

Within a run, per target, successful records are read in completion order (hot columns
only). Each distinct (served model, system_fingerprint) pair is a *sighting* with its
first and last case and time; a *change* is the first record served by a pair not seen
before in that run, with the pair that served the record just before it. ``switches``
counts every time consecutive records differ, so an alias that flips back and forth
between two backends shows many switches but only one change.

Across runs, the recent runs of the same target name and the same requested model are
compared: a change is a pair that serves in a run but did not serve in the run before
it, with the first case and time it served there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from nullband.errors import StoreError
from nullband.store.base import RunInfo
from nullband.store.sql import SqlStore

DRIFT_SCHEMA_VERSION = 1

ChangeKind = Literal["model", "fingerprint"]


class Sighting(BaseModel):
    """One (served model, fingerprint) pair seen serving a target in a run."""

    served: str | None = Field(description="`response.model` as the server returned it.")
    fingerprint: str | None = Field(description="`system_fingerprint`, if any.")
    n: int = Field(description="Successful records served by this pair.")
    first_case_id: str = Field(description="Case of the first record it served.")
    first_epoch: int = Field(description="Epoch of that record.")
    first_at: datetime = Field(description="UTC completion time of that record.")
    last_case_id: str = Field(description="Case of the last record it served.")
    last_epoch: int = Field(description="Epoch of that record.")
    last_at: datetime = Field(description="UTC completion time of that record.")


class Change(BaseModel):
    """The first record served by a pair not seen before (within one run)."""

    kind: ChangeKind = Field(
        description="'model' when the served model changed, else only the fingerprint."
    )
    case_id: str = Field(description="Case of the first record served by the new pair.")
    epoch: int = Field(description="Epoch of that record.")
    at: datetime = Field(description="UTC completion time of that record.")
    position: int = Field(description="0-based position of that record in completion order.")
    from_served: str | None = Field(description="Served model of the record just before.")
    from_fingerprint: str | None = Field(description="Fingerprint of the record just before.")
    to_served: str | None = Field(description="Served model of the new pair.")
    to_fingerprint: str | None = Field(description="Fingerprint of the new pair.")


class TargetDrift(BaseModel):
    """Served models and fingerprints of one target within one run."""

    target: str = Field(description="Target name.")
    requested: str | None = Field(description="The pinned model the run requested.")
    n_ok: int = Field(description="Successful records read.")
    mismatched: int = Field(description="Records flagged as served by another model than pinned.")
    sightings: list[Sighting] = Field(description="Pairs in order of first appearance.")
    changes: list[Change] = Field(description="Where a new pair started serving.")
    switches: int = Field(description="Times consecutive records (by time) had different pairs.")
    drifted: bool = Field(description="True when more than one pair served.")


class PairSummary(BaseModel):
    """A pair's share of one run (for the across-runs view)."""

    served: str | None = Field(description="Served model.")
    fingerprint: str | None = Field(description="system_fingerprint.")
    n: int = Field(description="Successful records served by it in the run.")
    first_at: datetime = Field(description="UTC time of its first record in the run.")
    last_at: datetime = Field(description="UTC time of its last record in the run.")


class RunModels(BaseModel):
    """What served one target in one run."""

    run_id: str = Field(description="The run.")
    created_at: datetime = Field(description="UTC creation time of the run.")
    status: str = Field(description="The run's status.")
    pairs: list[PairSummary] = Field(description="Pairs that served, most records first.")


class HistoryChange(BaseModel):
    """A pair that served in a run but not in the run before it."""

    run_id: str = Field(description="The run where the pair appeared.")
    previous_run_id: str = Field(description="The run before it (same target and model).")
    kind: ChangeKind = Field(description="'model' when the served model is new, else fingerprint.")
    served: str | None = Field(description="The new pair's served model.")
    fingerprint: str | None = Field(description="The new pair's fingerprint.")
    case_id: str = Field(description="Case of the first record it served in that run.")
    epoch: int = Field(description="Epoch of that record.")
    at: datetime = Field(description="UTC completion time of that record.")
    gone: list[tuple[str | None, str | None]] = Field(
        description="(served, fingerprint) pairs of the previous run that no longer served."
    )


class TargetHistory(BaseModel):
    """One target (name + requested model) across its recent runs, oldest first."""

    target: str = Field(description="Target name.")
    requested: str | None = Field(description="The pinned model requested.")
    runs: list[RunModels] = Field(description="The recent runs, oldest first.")
    changes: list[HistoryChange] = Field(description="Where the serving pairs changed.")


class DriftReport(BaseModel):
    """The drift view of one run: within it and across the recent runs of its targets."""

    schema_version: int = Field(default=DRIFT_SCHEMA_VERSION, description="Report schema version.")
    run_id: str = Field(description="The run examined.")
    generated_at: datetime = Field(description="UTC time the report was made.")
    within: list[TargetDrift] = Field(description="Per target, within the run.")
    across: list[TargetHistory] = Field(description="Per target, across recent runs.")


def _kind(a: tuple[str | None, str | None], b: tuple[str | None, str | None]) -> ChangeKind:
    return "model" if a[0] != b[0] else "fingerprint"


@dataclass(slots=True)
class _Acc:
    n: int
    first: tuple[str, int, datetime]
    last: tuple[str, int, datetime]


def target_drift(store: SqlStore, run: RunInfo, target: str) -> TargetDrift:
    """Sightings and changes of one target within one run (streams hot columns only)."""
    cols = ("status", "served_model", "fingerprint", "mismatch")
    seen: dict[tuple[str | None, str | None], _Acc] = {}
    changes: list[Change] = []
    prev: tuple[str | None, str | None] | None = None
    switches = n_ok = mismatched = 0
    for row in store.iter_record_columns(run.run_id, cols, target=target, by_time=True):
        if row.mismatch:
            mismatched += 1
        if row.status != "ok":
            continue
        pair = (row.served_model, row.fingerprint)
        here = (row.case_id, int(row.epoch), row.created_at)
        acc = seen.get(pair)
        if acc is None:
            seen[pair] = _Acc(n=1, first=here, last=here)
            if prev is not None:
                changes.append(
                    Change(
                        kind=_kind(prev, pair),
                        case_id=here[0],
                        epoch=here[1],
                        at=here[2],
                        position=n_ok,
                        from_served=prev[0],
                        from_fingerprint=prev[1],
                        to_served=pair[0],
                        to_fingerprint=pair[1],
                    )
                )
        else:
            acc.n += 1
            acc.last = here
        if prev is not None and pair != prev:
            switches += 1
        prev = pair
        n_ok += 1
    sightings = [
        Sighting(
            served=served,
            fingerprint=fp,
            n=acc.n,
            first_case_id=acc.first[0],
            first_epoch=acc.first[1],
            first_at=acc.first[2],
            last_case_id=acc.last[0],
            last_epoch=acc.last[1],
            last_at=acc.last[2],
        )
        for (served, fp), acc in seen.items()
    ]
    return TargetDrift(
        target=target,
        requested=run.targets.get(target),
        n_ok=n_ok,
        mismatched=mismatched,
        sightings=sightings,
        changes=changes,
        switches=switches,
        drifted=len(sightings) > 1,
    )


def target_history(
    store: SqlStore, run: RunInfo, target: str, last: int = 10, scan: int = 500
) -> TargetHistory:
    """The last ``last`` runs (up to and including ``run``) of the same target and model.

    ``scan`` bounds how many recent runs are looked through to find them.
    """
    requested = run.targets.get(target)
    candidates = [
        r
        for r in store.list_runs(limit=scan)
        if (r.run_id == run.run_id or (target in r.targets and r.targets[target] == requested))
        and (r.created_at, r.run_id) <= (run.created_at, run.run_id)
    ]
    chosen = sorted(candidates, key=lambda r: (r.created_at, r.run_id))[-last:]
    runs: list[RunModels] = []
    changes: list[HistoryChange] = []
    for r in chosen:
        pairs = [PairSummary(**p) for p in store.served_pairs(r.run_id, target)]
        runs.append(
            RunModels(run_id=r.run_id, created_at=r.created_at, status=r.status, pairs=pairs)
        )
    # Each run is compared with the latest earlier run that had successful records: a
    # run with none (all failed, or stopped at once) says nothing about drift.
    before: RunModels | None = None
    for after in runs:
        if not after.pairs:
            continue
        if before is not None:
            changes.extend(_history_changes(store, target, before, after))
        before = after
    return TargetHistory(target=target, requested=requested, runs=runs, changes=changes)


def _history_changes(
    store: SqlStore, target: str, before: RunModels, after: RunModels
) -> list[HistoryChange]:
    old = {(p.served, p.fingerprint) for p in before.pairs}
    old_models = {p.served for p in before.pairs}
    new = [(p.served, p.fingerprint) for p in after.pairs]
    gone = sorted((p for p in old if p not in new), key=str)
    out = []
    for pair in new:
        if pair in old:
            continue
        case_id, epoch, at = store.first_served(after.run_id, target, *pair)
        out.append(
            HistoryChange(
                run_id=after.run_id,
                previous_run_id=before.run_id,
                kind="model" if pair[0] not in old_models else "fingerprint",
                served=pair[0],
                fingerprint=pair[1],
                case_id=case_id,
                epoch=epoch,
                at=at,
                gone=gone,
            )
        )
    return out


class DriftSummary(BaseModel):
    """A cheap per-target drift summary (SQL aggregates only), for run listings."""

    target: str = Field(description="Target name.")
    requested: str | None = Field(description="The pinned model requested.")
    pairs: list[PairSummary] = Field(description="Pairs that served, in order of first use.")
    first_change: HistoryChange | None = Field(
        default=None,
        description="The first record served by the second pair to appear (run_id and "
        "previous_run_id are both this run); null when one pair served.",
    )


def drift_summary(store: SqlStore, run: RunInfo, target: str) -> DriftSummary:
    """Pairs that served one target of a run and where the first new one started."""
    pairs = sorted(
        (PairSummary(**p) for p in store.served_pairs(run.run_id, target)),
        key=lambda p: p.first_at,
    )
    change = None
    if len(pairs) > 1:
        first, second = pairs[0], pairs[1]
        case_id, epoch, at = store.first_served(
            run.run_id, target, second.served, second.fingerprint
        )
        change = HistoryChange(
            run_id=run.run_id,
            previous_run_id=run.run_id,
            kind="model" if second.served != first.served else "fingerprint",
            served=second.served,
            fingerprint=second.fingerprint,
            case_id=case_id,
            epoch=epoch,
            at=at,
            gone=[],
        )
    return DriftSummary(
        target=target, requested=run.targets.get(target), pairs=pairs, first_change=change
    )


def drift_report(
    store: SqlStore,
    run_id: str | None = None,
    *,
    targets: Sequence[str] | None = None,
    last: int = 10,
) -> DriftReport:
    """The drift view of a run (default: the most recent run).

    Raises:
        StoreError: no such run, or the store has no runs.
    """
    if run_id is None:
        recent = store.list_runs(limit=1)
        if not recent:
            raise StoreError(
                f"the store {store.url} has no runs", hint="run `nullband run CONFIG` first"
            )
        run_id = recent[0].run_id
    run = store.get_run(run_id)
    if run is None:
        raise StoreError(
            f"no run {run_id} in {store.url}", run_id=run_id, hint="`nullband runs` lists the runs"
        )
    names = sorted(set(run.targets) | set(store.record_targets(run_id)))
    if targets:
        unknown = sorted(set(targets) - set(names))
        if unknown:
            raise StoreError(
                f"run {run_id} has no target {', '.join(unknown)}; its targets are {', '.join(names)}",
                run_id=run_id,
            )
        names = [n for n in names if n in set(targets)]
    return DriftReport(
        run_id=run_id,
        generated_at=datetime.now(UTC),
        within=[target_drift(store, run, t) for t in names],
        across=[target_history(store, run, t, last=last) for t in names],
    )
