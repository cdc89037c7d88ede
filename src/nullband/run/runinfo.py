"""Creating, joining and resuming a run in the store.

With a :class:`~nullband.store.process.ProcessStore` (large runs), the same functions run
in the store's child process: it loads the suites itself from the config (checking that
it gets the same cases, by the run's identity hash) and writes the run and its case rows
there, so the caller never builds those rows.
"""

from __future__ import annotations

import inspect
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nullband.config.models import EvalConfig
from nullband.errors import StoreError, UsageError
from nullband.run.plan import Plan, load_plan
from nullband.store.base import RunInfo, Store
from nullband.store.process import ProcessStore

_CASE_SLICE = 2000


def run_info(plan: Plan, run_id: str, *, with_cases: bool = True) -> RunInfo:
    """A fresh RunInfo for ``plan`` (status running); ``with_cases=False`` leaves the
    per-case metadata out (for a store that writes it from the cases themselves)."""
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
        cases=plan.case_table() if with_cases else {},
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
    ensure = getattr(store, "ensure_run", None)
    takes_cases = ensure is not None and "cases" in inspect.signature(ensure).parameters
    # A store that takes the cases builds each case row from the case itself (same
    # metadata), so the 100k-entry metadata table is not built for it.
    info = run_info(plan, run_id, with_cases=not takes_cases)
    existing = store.get_run(run_id) if given else None
    created = bodies = False
    if existing is None:
        if takes_cases and ensure is not None:
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


def create_run(store: Store | ProcessStore, plan: Plan, run_id: str) -> None:
    """Create a new run and store its case bodies (on the store thread or in the store
    process)."""
    if isinstance(store, ProcessStore):
        store.run_function(f"{__name__}:create_in_child", *_remote(plan), run_id)
        return
    _info, _resumed, bodies_stored = open_run(store, plan, run_id, False)
    if not bodies_stored:
        store_cases(store, plan, run_id)


def open_run_any(
    store: Store | ProcessStore, plan: Plan, run_id: str, given: bool
) -> tuple[RunInfo, bool, bool]:
    """:func:`open_run` on the store thread or in the store process."""
    if isinstance(store, ProcessStore):
        out: tuple[RunInfo, bool, bool] = store.run_function(
            f"{__name__}:open_in_child", *_remote(plan), run_id, given
        )
        return out
    return open_run(store, plan, run_id, given)


def store_cases_any(store: Store | ProcessStore, plan: Plan, run_id: str) -> None:
    """:func:`store_cases` on the store thread or in the store process."""
    if isinstance(store, ProcessStore):
        store.run_function(f"{__name__}:store_cases_in_child", *_remote(plan), run_id)
    else:
        store_cases(store, plan, run_id)


def _remote(plan: Plan) -> tuple[str, str, str]:
    return plan.config.model_dump_json(), str(plan.config_path), plan.identity_hash()


_CHILD_PLAN: dict[tuple[str, str], Plan] = {}


def _child_plan(config_json: str, config_path: str, identity: str) -> Plan:
    """The plan in the store process: loaded once per config, checked against the caller's."""
    key = (config_json, config_path)
    plan = _CHILD_PLAN.get(key)
    if plan is None:
        plan = load_plan(EvalConfig.model_validate_json(config_json), Path(config_path))
        if plan.identity_hash() != identity:
            raise UsageError(
                "the suite files changed while the run was starting: the store process "
                "read other cases than the runner",
                hint="run again once the suite files stop changing",
            )
        _CHILD_PLAN.clear()
        _CHILD_PLAN[key] = plan
    return plan


def create_in_child(
    store: Any, config_json: str, config_path: str, identity: str, rid: str
) -> None:
    """:func:`create_run`, run by the store process with its own store (the plan is
    dropped afterwards: the child keeps no cases while records stream in)."""
    create_run(store, _child_plan(config_json, config_path, identity), rid)
    _CHILD_PLAN.clear()


def open_in_child(
    store: Any, config_json: str, config_path: str, identity: str, rid: str, given: bool
) -> tuple[RunInfo, bool, bool]:
    """:func:`open_run`, run by the store process with its own store."""
    return open_run(store, _child_plan(config_json, config_path, identity), rid, given)


def store_cases_in_child(
    store: Any, config_json: str, config_path: str, identity: str, rid: str
) -> None:
    """:func:`store_cases`, run by the store process with its own store (then the plan
    is dropped)."""
    store_cases(store, _child_plan(config_json, config_path, identity), rid)
    _CHILD_PLAN.clear()
