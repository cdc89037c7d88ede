"""Re-scoring a stored run: new scores from stored outputs, with no call to any target.

The cases come from the store (``run_cases.body``, written when the run was created).
For runs stored without case bodies, the suite files named in the run's config are read
again, and every case must still hash to what the run recorded: scoring a record against
a gold answer that changed since would be silently wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nullband.config.models import ScorerSpec, SuiteRef
from nullband.errors import StoreError
from nullband.records import Record
from nullband.store.base import RecordKey, RunInfo, Store
from nullband.suite.case import Case
from nullband.suite.loader import iter_cases


@dataclass(slots=True)
class TargetScores:
    """Tally of one target after re-scoring."""

    records: int = 0
    errors: int = 0
    passed: int = 0
    failed: int = 0
    no_verdict: int = 0


@dataclass(slots=True)
class RescoreSummary:
    """What a re-score did."""

    run_id: str
    scorers: list[str]
    case_source: str
    targets: dict[str, TargetScores] = field(default_factory=dict)


def scorer_specs(run: RunInfo, names: Sequence[str] | None) -> list[ScorerSpec]:
    """Scorers named on the command line, else the run config's (with their options)."""
    if names:
        return [ScorerSpec(name=n) for n in names]
    raw: list[Any] = run.config.get("scorers") or ["exact"]
    return [ScorerSpec(name=s) if isinstance(s, str) else ScorerSpec.model_validate(s) for s in raw]


def _cases_from_suites(run: RunInfo) -> dict[str, Case]:
    raw = run.config.get("suite")
    if not raw:
        raise StoreError(
            f"run {run.run_id} has no stored cases and its stored config names no suite",
            run_id=run.run_id,
        )
    items = [raw] if isinstance(raw, str) else list(raw)
    try:
        refs = [
            SuiteRef(path=i) if isinstance(i, str) else SuiteRef.model_validate(i) for i in items
        ]
    except ValueError as exc:
        raise StoreError(
            f"run {run.run_id}: the suite list in its stored config is invalid: {exc}",
            run_id=run.run_id,
        ) from None
    base = Path(run.config_path).parent if run.config_path else Path(".")
    out: dict[str, Case] = {}
    for ref in refs:
        p = Path(ref.path).expanduser()
        for case in iter_cases(p if p.is_absolute() else base / p):
            out[case.id] = case
    return out


def load_run_cases(store: Store, run: RunInfo) -> tuple[dict[str, Case], str]:
    """The run's cases by id and where they came from ('store' or 'suite files')."""
    stored = {c.id: c for c in store.iter_cases(run.run_id)}
    if stored and set(run.cases) <= set(stored):
        return stored, "store"
    return _cases_from_suites(run), "suite files"


async def rescore_run(
    store: Store, run_id: str, scorer_names: Sequence[str] | None = None, *, batch: int = 500
) -> RescoreSummary:
    """Score every record of a run again and replace its scores in the store.

    Args:
        store: an open store.
        run_id: the run.
        scorer_names: scorers to apply; default: those of the run's config.
        batch: records per score-update transaction.

    Raises:
        StoreError: no such run, or its cases cannot be found or changed since the run.
        ScorerError: a scorer cannot be loaded.
    """
    from nullband.score.registry import load_scorers, score_record

    run = store.get_run(run_id)
    if run is None:
        raise StoreError(
            f"no run {run_id} in the store",
            run_id=run_id,
            hint="`nullband runs` lists the stored runs",
        )
    specs = scorer_specs(run, scorer_names)
    scorers = load_scorers(specs)
    cases, source = load_run_cases(store, run)
    summary = RescoreSummary(run_id=run_id, scorers=[s.name for s in specs], case_source=source)
    pending: list[tuple[RecordKey, dict[str, float | None], dict[str, str]]] = []
    for rec in store.iter_records(run_id):
        case = _case_for(cases, rec, source)
        scores, reasons = await score_record(case, rec, scorers)
        pending.append(((rec.case_id, rec.target, rec.epoch), scores, reasons))
        _tally(summary.targets.setdefault(rec.target, TargetScores()), rec, scores)
        if len(pending) >= batch:
            store.update_scores(run_id, pending)
            pending = []
    if pending:
        store.update_scores(run_id, pending)
    return summary


def _case_for(cases: dict[str, Case], rec: Record, source: str) -> Case:
    case = cases.get(rec.case_id)
    if case is None:
        raise StoreError(
            f"run {rec.run_id}: case {rec.case_id!r} is in the records but not in the {source}",
            run_id=rec.run_id,
            hint="re-scoring needs the cases the run was made from",
        )
    if case.content_hash() != rec.case_hash:
        raise StoreError(
            f"run {rec.run_id}: case {rec.case_id!r} changed since the run (hash "
            f"{case.content_hash()} in the {source}, {rec.case_hash} in the record)",
            run_id=rec.run_id,
            hint="restore the suite the run was made from, or start a new run",
        )
    return case


def _tally(t: TargetScores, rec: Record, scores: dict[str, float | None]) -> None:
    t.records += 1
    if rec.status != "ok":
        t.errors += 1
    elif "pass" not in scores or scores["pass"] is None:
        t.no_verdict += 1
    elif scores["pass"] >= 1.0:
        t.passed += 1
    else:
        t.failed += 1


__all__ = [
    "RescoreSummary",
    "TargetScores",
    "load_run_cases",
    "rescore_run",
    "scorer_specs",
]
