"""Creating, joining and resuming a run in the store."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime

from nullband.errors import StoreError, UsageError
from nullband.run.plan import Plan
from nullband.store.base import RunInfo, Store

_CASE_SLICE = 2000


def run_info(plan: Plan, run_id: str) -> RunInfo:
    """A fresh RunInfo for ``plan`` (status running)."""
    now = datetime.now(UTC)
    cfg = plan.config
    return RunInfo(
        run_id=run_id,
        created_at=now,
        updated_at=now,
        status="running",
        config_path=str(plan.config_path),
        config_hash=plan.identity_hash(),
        config=plan.stored_config(),
        targets={t.name: t.model for t in cfg.targets},
        n_cases=len(plan.cases),
        epochs=cfg.epochs,
        cases=plan.case_table(),
    )


def store_cases(store: Store, plan: Plan, run_id: str) -> None:
    """Store the case bodies of a new run (so re-scoring needs no suite file).

    In slices, so a 100k-case suite never holds every serialised body at once. A store
    whose ``write_cases`` takes ``hashes`` (the SQL store) gets the plan's case hashes,
    so they are not computed a second time.
    """
    write_cases = getattr(store, "write_cases", None)
    if write_cases is None:
        return
    takes_hashes = "hashes" in inspect.signature(write_cases).parameters
    for i in range(0, len(plan.cases), _CASE_SLICE):
        part = slice(i, i + _CASE_SLICE)
        if takes_hashes:
            write_cases(run_id, plan.cases[part], hashes=plan.case_hashes[part])
        else:
            write_cases(run_id, plan.cases[part])


def open_run(store: Store, plan: Plan, run_id: str, given: bool) -> tuple[RunInfo, bool, bool]:
    """Create the run, or join/resume it when it exists; returns (run, resumed, bodies).

    Several shard processes may call this at once: one creates, the others join. A store
    whose ``ensure_run`` takes ``cases`` (the SQL store) stores the case bodies with the
    run, in one transaction, each case row written once (``bodies`` is then True);
    otherwise the creator stores them afterwards with :func:`store_cases`.

    Raises:
        UsageError: the stored run was made from a config with other cases, models,
            params, scorers or epochs.
    """
    info = run_info(plan, run_id)
    existing = store.get_run(run_id) if given else None
    created = bodies = False
    if existing is None:
        ensure = getattr(store, "ensure_run", None)
        if ensure is not None and "cases" in inspect.signature(ensure).parameters:
            existing, created = ensure(
                info, cases=plan.cases, hashes=plan.case_hashes, with_cases=False
            )
            bodies = created
        elif ensure is not None:
            existing, created = ensure(info)
        else:
            try:
                store.create_run(info)
                existing, created = info, True
            except StoreError:
                existing = store.get_run(run_id)
                if existing is None:
                    raise
    if existing.config_hash != info.config_hash:
        raise UsageError(
            f"run {run_id} was made from a different config: its cases, models, params, "
            "scorers or epochs differ from this one",
            hint="resume it with the config it was started with, or leave --run-id out "
            "to start a new run",
        )
    if not created:
        store.set_status(run_id, "running", None)
    # The caller needs the id and whether it resumed; drop the (large) case table.
    existing.cases = {}
    return existing, not created, bodies
