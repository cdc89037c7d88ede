"""The runner: cases x targets x epochs against OpenAI-compatible endpoints, durably.

Shape of a run (one process, or one shard of many):

- per target, ``concurrency`` worker tasks pull keys from one shared iterator of the keys
  still to call (already-completed keys of a resumed run are left out up front);
- each worker calls the target (retries inside the client), scores the record and hands
  it to the single :class:`~nullband.run.writer.RecordWriter`, which commits batches on
  the store's own thread; a record counts as done only after its batch committed;
- a shared :class:`~nullband.targets.budget.Budget` stops new calls at the cap; judge
  scorers (anything with ``bind_budget``) charge it too, through a
  :class:`~nullband.targets.budget.BudgetShare` that also counts their own spend, and
  are closed (``aclose``) when the run ends;
  SIGINT/SIGTERM stop new calls too (a second signal abandons calls in flight);
- the run's status ends as completed, stopped_budget, interrupted or failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from nullband._ids import new_run_id
from nullband.config.models import EvalConfig, ScorerSpec
from nullband.errors import NullbandError, UsageError
from nullband.records import Record
from nullband.run.calls import call_case, record_from_outcome
from nullband.run.metrics import RunMetrics
from nullband.run.plan import Plan, Shard, load_plan
from nullband.run.progress import RunProgress
from nullband.run.runinfo import create_run, open_run_any, store_cases_any
from nullband.run.summary import RunSummary
from nullband.score.base import AnyScorer
from nullband.score.registry import ScorerSet, load_scorers
from nullband.store.base import RunStatus, Store
from nullband.store.process import ProcessStore
from nullband.targets.budget import Budget, BudgetExceeded, BudgetShare
from nullband.targets.client import TargetClient
from nullband.targets.config import TargetConfig

GRACE_S = 20.0
"""After the first Ctrl-C or SIGTERM, calls in flight get this long to finish."""


_GC_THRESHOLD = (50_000, 50, 50)
"""Cyclic-GC thresholds while calls run (restored after; see :func:`_relaxed_gc`)."""


@contextlib.contextmanager
def _relaxed_gc() -> Iterator[None]:
    """Collect cycles less often while the run's hot loop runs.

    Each call allocates a few hundred container objects that die by reference counting;
    with the default thresholds the collector would walk the young generation every few
    calls, and the whole heap (the suite's cases) often. Measured: about 10-15% less CPU
    per call (bench/runner.md). The previous thresholds come back when the run ends.
    """
    old = gc.get_threshold()
    gc.set_threshold(*(max(a, b) for a, b in zip(old, _GC_THRESHOLD, strict=False)))
    try:
        yield
    finally:
        gc.set_threshold(*old)


def _scorers_for(plan: Plan) -> list[AnyScorer]:
    specs = plan.config.scorer_specs()
    names = {s.name for s in specs}
    extra = sorted({n for c in plan.cases for n in (c.scorers or ()) if n not in names})
    return load_scorers([*specs, *(ScorerSpec(name=n) for n in extra)])


class _Run:
    """State of one invocation; lives only inside :func:`run_eval`."""

    def __init__(
        self,
        plan: Plan,
        store: Store | ProcessStore,
        executor: ThreadPoolExecutor,
        run_id: str,
        budget: Budget,
        scorers: list[AnyScorer],
        metrics: RunMetrics | None,
    ) -> None:
        self.plan = plan
        self.store = store
        self.executor = executor
        self.run_id = run_id
        self.budget = budget
        self.judge_budget = BudgetShare(budget)
        self._judge_stored: tuple[float, int] = (0.0, 0)
        self.scoring = ScorerSet(scorers)
        self.metrics = metrics
        self.stop_reason: RunStatus | None = None
        self.signals = 0
        self.workers_task: asyncio.Task[None] | None = None
        self.ok = 0
        self.errors = 0
        self.spend = 0.0
        self.tokens = 0
        self.mismatches = 0
        self.served: dict[str, set[str]] = {t.name: set() for t in plan.config.targets}
        self.progress: RunProgress | None = None
        self.skipped = 0

    # -- stopping -----------------------------------------------------------------------

    def stop(self, reason: RunStatus) -> None:
        """No new call starts from now on (the first reason given wins)."""
        if self.stop_reason is None:
            self.stop_reason = reason

    def on_signal(self) -> None:
        self.signals += 1
        self.stop("interrupted")
        if self.signals == 1:
            sys.stderr.write(
                f"stopping: no new calls; waiting up to {GRACE_S:g} s for calls in flight "
                "(press Ctrl-C again to abandon them)\n"
            )
            asyncio.get_running_loop().call_later(GRACE_S, self.abandon)
        else:
            self.abandon()

    def abandon(self) -> None:
        """Cancel calls in flight; records already committed stay."""
        if self.workers_task is not None and not self.workers_task.done():
            self.signals = max(self.signals, 2)
            self.workers_task.cancel()

    # -- committed batches ----------------------------------------------------------------

    def judge_spend_delta(self) -> tuple[float, int]:
        """What the judges spent since the last batch (stored with the next batch, so a
        resumed run's budget counts it; the run fails if that write fails)."""
        usd, tokens = self.judge_budget.own_usd, self.judge_budget.own_tokens
        delta = (usd - self._judge_stored[0], tokens - self._judge_stored[1])
        self._judge_stored = (usd, tokens)
        return delta

    def on_commit(self, batch: Sequence[Record]) -> None:
        for rec in batch:
            if rec.status == "ok":
                self.ok += 1
            else:
                self.errors += 1
            self.spend += rec.cost_usd
            self.tokens += rec.usage.input_tokens + rec.usage.output_tokens
            if rec.provenance.served:
                self.served[rec.target].add(rec.provenance.served)
            if rec.provenance.mismatch:
                self.mismatches += 1
        if self.progress is not None:
            self.progress.update(
                self.skipped + self.ok + self.errors,
                self.errors,
                self.spend + self.judge_budget.own_usd,
            )

    # -- work -----------------------------------------------------------------------------

    async def worker(
        self,
        client: TargetClient,
        target: str,
        pending: Iterator[tuple[int, int]],
        writer: Any,
    ) -> None:
        plan = self.plan
        cases, hashes, max_steps = plan.cases, plan.case_hashes, plan.config.max_steps
        scoring = self.scoring
        # Workers of one target share ``pending``; next() on it never awaits, so asyncio
        # hands each key to exactly one worker.
        for i, epoch in pending:
            if self.stop_reason is not None:
                return
            case = cases[i]
            key = f"{case.id}/{target}/{epoch}"
            try:
                if case.tool_results:
                    out, messages = await call_case(client, case, key=key, max_steps=max_steps)
                else:  # the common case, one await layer less on the hot path
                    out = await client.chat(case.messages(), case.tools, case_key=key)
                    messages = None
            except BudgetExceeded:
                self.stop("stopped_budget")
                return
            rec = record_from_outcome(
                out,
                run_id=self.run_id,
                case=case,
                case_hash=hashes[i],
                target=target,
                epoch=epoch,
                messages=messages,
            )
            if rec.status == "ok" and scoring:
                rec.scores, rec.score_reasons = await scoring.score(case, rec)
            if self.metrics is not None:
                self.metrics.observe(target, out)
            await writer.put(rec)

    async def run_workers(
        self,
        clients: dict[str, TargetClient],
        pending: dict[str, list[tuple[int, int]]],
        writer: Any,
    ) -> None:
        async with asyncio.TaskGroup() as tg:
            for t in self.plan.config.targets:
                it = iter(pending[t.name])
                for _ in range(min(t.concurrency, max(1, len(pending[t.name])))):
                    tg.create_task(self.worker(clients[t.name], t.name, it, writer))


async def run_eval(
    config: EvalConfig,
    *,
    config_path: str | Path,
    run_id: str | None = None,
    shard: Shard | str | None = None,
    store: Store | ProcessStore | None = None,
    progress: bool = True,
    metrics_port: int | None = None,
) -> RunSummary:
    """Run (or resume) an eval config and store every call.

    Args:
        config: the eval config.
        config_path: the config file (suite paths are relative to its folder).
        run_id: resume this run (or create it under this id); None starts a new run.
        shard: run only shard ``i/n`` of the keys (needs ``run_id``, shared by all shards).
        store: a store to use (default: open ``config.store``, relative to the cwd).
        progress: show a progress bar on stderr.
        metrics_port: serve Prometheus metrics on 127.0.0.1:PORT during the run.

    Returns:
        A :class:`RunSummary`; its ``status`` is completed, stopped_budget or interrupted.

    Raises:
        ConfigError, SuiteError: bad config or suite (nothing is called).
        UsageError: a key variable is unset, a bad shard, or a run id whose config differs.
        StoreError: the store failed (the run is marked failed when possible).

    Example:
        >>> summary = asyncio.run(run_eval(cfg, config_path="eval.yaml"))  # doctest: +SKIP
    """
    started = time.monotonic()
    plan = load_plan(config, config_path)
    shard_obj = Shard.parse(shard) if isinstance(shard, str) else shard
    if shard_obj is not None and shard_obj.count > 1 and run_id is None:
        raise UsageError(
            f"--shard {shard_obj} needs --run-id, so that every shard writes into one run",
            hint="pick an id (e.g. the CI pipeline id) and pass the same --run-id to each shard",
        )
    for t in config.targets:
        t.api_key()  # fail before any call when a key variable is unset
    scorers = _scorers_for(plan)

    own_store = store is None
    if store is None:
        store = _open_store(config)
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nullband-store")
    loop = asyncio.get_running_loop()
    metrics: RunMetrics | None = None
    try:
        opening: asyncio.Future[Any] | None = None
        cases_written: asyncio.Future[None] | None = None
        if run_id is None:
            # A new run: nothing to resume, so calls start at once while the store thread
            # creates the run and its case rows (one job, queued before any record
            # write on that one thread). The writer waits for it before its first batch,
            # so no record is written for a run that failed to be created.
            rid = new_run_id()
            resumed = False
            opening = loop.run_in_executor(executor, create_run, store, plan, rid)
            completed: set[tuple[str, str, int]] = set()
            spent_usd, spent_tokens = 0.0, 0
        else:
            _info, resumed, bodies_stored = await loop.run_in_executor(
                executor, open_run_any, store, plan, run_id, True
            )
            rid = run_id
            # The SQL store wrote the case bodies with the run if this process created
            # it. Otherwise they go in on the store thread while the first calls are
            # made. A resumed run writes them again (an idempotent upsert) in case the
            # process that created it was killed before they were all in (a store
            # without the one-transaction path); joining shards leave that to the
            # creator.
            cases_written = (
                loop.run_in_executor(executor, store_cases_any, store, plan, rid)
                if not bodies_stored and (not resumed or shard_obj is None)
                else None
            )
            completed, (spent_usd, spent_tokens) = await loop.run_in_executor(
                executor, lambda: (store.completed_keys(rid), store.spend(rid))
            )
        pending: dict[str, list[tuple[int, int]]] = {t.name: [] for t in config.targets}
        total = skipped = 0
        for i, tname, epoch in plan.keys(shard_obj):
            total += 1
            if (plan.cases[i].id, tname, epoch) in completed:
                skipped += 1
            else:
                pending[tname].append((i, epoch))
        del completed
        budget = Budget(
            config.budget.usd,
            config.budget.tokens,
            spent_usd=spent_usd,
            spent_tokens=spent_tokens,
        )
        if metrics_port is not None:
            metrics = RunMetrics()
            metrics.serve(metrics_port)
        state = _Run(plan, store, executor, rid, budget, scorers, metrics)
        state.skipped = skipped
        _bind_budget(scorers, state.judge_budget)
        if budget.exhausted:
            state.stop("stopped_budget")
        try:
            try:
                with _relaxed_gc():
                    await _execute(state, pending, total, progress, shard_obj, opening)
            finally:
                await _close_scorers(scorers)
            if opening is not None:
                await opening  # done before the first write; raises if it failed
            if cases_written is not None:
                await cases_written
        except BaseException as exc:
            await _mark_failed(loop, executor, store, rid, exc)
            raise
        status, note = await loop.run_in_executor(
            executor, _final_status, state, store, total, shard_obj
        )
        n_left = total - skipped - state.ok - state.errors
        judge_usd, judge_tokens = state.judge_budget.own_usd, state.judge_budget.own_tokens
        return RunSummary(
            run_id=rid,
            status=status,
            store=str(getattr(store, "url", config.store)),
            shard=str(shard_obj) if shard_obj is not None else None,
            resumed=resumed,
            total=total,
            skipped=skipped,
            ok=state.ok,
            errors=state.errors,
            not_started=n_left,
            spend_usd=state.spend + judge_usd,
            judge_spend_usd=judge_usd,
            run_spend_usd=spent_usd + state.spend + judge_usd,
            tokens=state.tokens + judge_tokens,
            elapsed_s=time.monotonic() - started,
            served_models={k: sorted(v) for k, v in state.served.items()},
            mismatches=state.mismatches,
            note=note,
        )
    finally:
        if metrics is not None:
            metrics.stop()
        executor.shutdown(wait=True)
        if own_store:
            store.close()


async def _execute(
    state: _Run,
    pending: dict[str, list[tuple[int, int]]],
    total: int,
    progress: bool,
    shard: Shard | None,
    opening: asyncio.Future[Any] | None = None,
) -> None:
    from nullband.run.writer import RecordWriter

    loop = asyncio.get_running_loop()
    cfg = state.plan.config
    writer = RecordWriter(
        state.store,
        state.executor,
        state.on_commit,
        ready=opening,
        extra_spend=state.judge_spend_delta,
    )
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, state.on_signal)
            installed.append(sig)
        except (RuntimeError, ValueError, NotImplementedError):
            pass  # not the main thread, or no signal support: Ctrl-C stays default
    label = f"run {state.run_id[-8:]}" + (f" shard {shard}" if shard else "")
    state.progress = RunProgress(total, enabled=progress, label=label)
    try:
        with state.progress:
            state.progress.update(state.skipped, 0, 0.0, force=True)
            async with contextlib.AsyncExitStack() as stack:
                clients: dict[str, TargetClient] = {}
                # Without a cap the budget only counts, and the writer counts committed
                # spend already: skip reserve/settle on the hot path.
                budget = state.budget if state.budget.limited else None
                for i, t in enumerate(cfg.targets):
                    clients[t.name] = await stack.enter_async_context(
                        TargetClient(t, cfg.retries, budget, seed=_seed(cfg.seed, i, t))
                    )
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(writer.run())
                    state.workers_task = asyncio.create_task(
                        state.run_workers(clients, pending, writer)
                    )
                    try:
                        await state.workers_task
                    except asyncio.CancelledError:
                        if state.signals < 2:
                            raise  # cancelled from outside, not by a second Ctrl-C
                    finally:
                        await writer.close()
            state.progress.update(
                state.skipped + state.ok + state.errors, state.errors, state.spend, force=True
            )
    except BaseExceptionGroup as group:
        raise _unwrap(group) from None
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def _open_store(config: EvalConfig) -> Store | ProcessStore:
    """The run's store: on the runner's thread, or served by a child process when
    ``NULLBAND_STORE_PROCESS=1``.

    The store process takes the store's CPU (row building, binding, commits) off the
    runner's interpreter lock. On the 2-core benchmark machine, where the test server
    holds the other core, it lowered the runner's own CPU per call but not its
    throughput (bench/runner.md), so it is not the default; on a machine with cores to
    spare, measure with ``bench/runner.py --modes both`` before turning it on.
    """
    from nullband.store import open_store

    mode = os.environ.get("NULLBAND_STORE_PROCESS", "0").strip().lower()
    if mode in ("1", "true", "yes"):
        return ProcessStore(config.store)
    return open_store(config.store)


def _bind_budget(scorers: Sequence[AnyScorer], share: BudgetShare) -> None:
    """Make every scorer that calls models (judges) charge the run's budget."""
    for s in scorers:
        bind = getattr(s, "bind_budget", None)
        if callable(bind):
            bind(share)


async def _close_scorers(scorers: Sequence[AnyScorer]) -> None:
    """``await scorer.aclose()`` for every scorer that has it (errors do not fail the run)."""
    for s in scorers:
        close = getattr(s, "aclose", None)
        if callable(close):
            with contextlib.suppress(Exception):
                await close()


def _seed(seed: int, index: int, target: TargetConfig) -> int:
    """A jitter seed per target derived from the config seed (stable across runs)."""
    return seed * 1_000_003 + index * 7919 + len(target.name)


def _unwrap(group: BaseExceptionGroup[Any]) -> BaseException:
    """The first nullband error inside a task group's failure (else the group itself)."""
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            inner = _unwrap(exc)
            if inner is not exc:
                return inner
        elif isinstance(exc, NullbandError):
            return exc
    return group.exceptions[0] if len(group.exceptions) == 1 else group


async def _mark_failed(
    loop: asyncio.AbstractEventLoop,
    executor: ThreadPoolExecutor,
    store: Store | ProcessStore,
    run_id: str,
    exc: BaseException,
) -> None:
    status: RunStatus = (
        "interrupted" if isinstance(exc, KeyboardInterrupt | asyncio.CancelledError) else "failed"
    )
    note = f"{type(exc).__name__}: {exc}"[:500]
    with contextlib.suppress(Exception):
        await loop.run_in_executor(executor, store.set_status, run_id, status, note)


def _final_status(
    state: _Run, store: Store | ProcessStore, total: int, shard: Shard | None
) -> tuple[RunStatus, str | None]:
    """Decide and store the run's status (runs on the store thread)."""
    left = total - state.skipped - state.ok - state.errors
    failed_note = (
        f"{state.errors} call(s) failed after retries; resume with --run-id "
        f"{state.run_id} to retry them"
        if state.errors
        else None
    )
    if left > 0:
        if state.stop_reason == "stopped_budget":
            note = f"{state.budget.describe()}; {left} call(s) not started. Raise the cap and resume with --run-id {state.run_id}"
            store.set_status(state.run_id, "stopped_budget", note)
            return "stopped_budget", note
        note = f"interrupted with {left} call(s) not started; resume with --run-id {state.run_id}"
        store.set_status(state.run_id, "interrupted", note)
        return "interrupted", note
    if shard is None or shard.count == 1:
        store.set_status(state.run_id, "completed", failed_note)
        return "completed", failed_note
    # A shard is done; the run is complete once every key of every shard has a stored
    # record (ok, or an error after retries: a resume retries those, as for an unsharded
    # run). The last shard to commit sees them all. Others leave the status alone:
    # writing "running" here could overwrite the "completed" of a shard that finished
    # meanwhile.
    cfg = state.plan.config
    all_keys = len(state.plan.cases) * len(cfg.targets) * cfg.epochs
    stored, ok = _stored_counts(store, state.run_id)
    if stored >= all_keys:
        failed = all_keys - ok
        done_note = (
            f"{failed} call(s) failed after retries; resume with --run-id {state.run_id} "
            "to retry them"
            if failed > 0
            else None
        )
        store.set_status(state.run_id, "completed", done_note)
        return "completed", done_note
    current = store.get_run(state.run_id)
    note = f"shard {shard} finished" + (f"; {failed_note}" if failed_note else "")
    return (current.status if current is not None else "running"), note


def _stored_counts(store: Store | ProcessStore, run_id: str) -> tuple[int, int]:
    """(records stored, records with status ok) of a run."""
    totals = getattr(store, "run_totals", None)
    if totals is not None:
        t = totals([run_id])[run_id]
        return int(t["records"]), int(t["ok"])
    n = sum(1 for _ in store.iter_records(run_id))  # a store without SQL aggregates
    ok = len(store.completed_keys(run_id))
    return n, ok
