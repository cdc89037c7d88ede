"""The runner end to end against the real test server: faults, budget, drift, resume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from runner_helpers import result_rows, write_eval

from nullband.config.models import EvalConfig
from nullband.config.yamlfile import load_yaml_model
from nullband.errors import UsageError
from nullband.run.runner import run_eval
from nullband.store import open_store
from nullband.testserver.server import TestServer

pytestmark = pytest.mark.anyio

FAULTS = {
    "rate_429": 0.05,
    "retry_after_s": 0.01,
    "rate_500": 0.02,
    "rate_timeout": 0.01,
    "hang_s": 30.0,
    "rate_malformed": 0.01,
    "rate_reset": 0.01,
    "seed": 11,
}


async def _run(config_path: Path, store: Any, **kw: Any) -> Any:
    cfg = load_yaml_model(config_path, EvalConfig)
    return await run_eval(cfg, config_path=config_path, store=store, progress=False, **kw)


@pytest.mark.parametrize("store_mode", ["given", "process"])
async def test_fault_run_every_case_stored_once_with_the_served_model(
    tmp_path: Path, store_url: str, store_mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``given``: the caller's store, written on the runner's thread; ``process``: the
    runner opens the store itself and serves it from a child process."""
    n = 2000
    async with TestServer({"faults": FAULTS, "served_model": "m-2026-01-01"}) as srv:
        path = write_eval(tmp_path, srv.base_url, n, store=store_url, target={"timeout_s": 2.0})
        if store_mode == "process":
            monkeypatch.setenv("NULLBAND_STORE_PROCESS", "1")
            summary = await _run(path, None)
        with open_store(store_url) as store:
            if store_mode == "process":
                assert summary.store == store.url  # the child opened the same store
            else:
                summary = await _run(path, store)
            rows = result_rows(store, summary.run_id)
        stats = srv.stats.snapshot()
    assert summary.status == "completed"
    assert summary.ok == n
    assert summary.errors == 0
    assert len(rows) == n  # every case ended with a stored record
    # every fault kind really happened
    assert {"429", "500", "malformed", "reset", "timeout"} <= set(stats["faults"])
    after = srv.stats.after_success()
    assert not any(after.values())  # no case was called again after it succeeded
    assert {r["served"] for r in rows.values()} == {"m-2026-01-01"}
    assert all(r["scores"].get("pass") == 1.0 for r in rows.values())  # exact scorer ran


async def test_budget_stops_within_bound_and_resumes_with_higher_cap(
    tmp_path: Path, store_url: str
) -> None:
    # Every answer is "echo <i>": 2 output tokens at 1 USD each (prices per million tokens).
    prices = {"input_per_mtok": 0.0, "output_per_mtok": 1_000_000.0}
    conc = 8
    async with TestServer({"latency": {"ttft_s": 0.01}}) as srv:
        target = {"prices": prices, "concurrency": conc}
        path = write_eval(
            tmp_path,
            srv.base_url,
            200,
            store=store_url,
            target=target,
            extra={"budget": {"usd": 50.0}},
        )
        with open_store(store_url) as store:
            first = await _run(path, store)
            assert first.status == "stopped_budget"
            spend, _ = store.spend(first.run_id)
            max_call = 2.0
            assert 50.0 <= spend <= 50.0 + conc * max_call
            assert first.not_started > 0
            assert "resume" in (first.note or "")
            assert store.get_run(first.run_id).status == "stopped_budget"  # type: ignore[union-attr]
            # Raise the cap and resume: completes, and nothing completed is called again.
            path2 = write_eval(
                tmp_path,
                srv.base_url,
                200,
                store=store_url,
                target=target,
                extra={"budget": {"usd": 1000.0}},
            )
            second = await _run(path2, store, run_id=first.run_id)
            assert second.status == "completed"
            assert second.resumed
            assert second.skipped == first.ok
            assert len(result_rows(store, first.run_id)) == 200
            assert store.spend(first.run_id)[0] == pytest.approx(400.0)
    assert not any(srv.stats.after_success().values())


async def test_alias_switch_mid_run_shows_both_models(tmp_path: Path, store_url: str) -> None:
    cfg = {
        "served_model": "m-2026-01-01",
        "switch": {"after": 100, "served_model": "m-2026-02-01", "fingerprint": "fp_new"},
    }
    async with TestServer(cfg) as srv:
        path = write_eval(tmp_path, srv.base_url, 300, store=store_url)
        with open_store(store_url) as store:
            summary = await _run(path, store)
            recs = list(store.iter_records(summary.run_id))
    served = {r.provenance.served for r in recs}
    assert served == {"m-2026-01-01", "m-2026-02-01"}
    assert summary.served_models == {"cand": ["m-2026-01-01", "m-2026-02-01"]}
    switched = [r for r in recs if r.provenance.served == "m-2026-02-01"]
    assert len(switched) == 200
    assert all(r.provenance.mismatch and r.provenance.fingerprint == "fp_new" for r in switched)
    assert summary.mismatches == 200


async def test_resume_refuses_a_different_config(tmp_path: Path, store_url: str) -> None:
    async with TestServer() as srv:
        path = write_eval(tmp_path, srv.base_url, 20, store=store_url)
        with open_store(store_url) as store:
            first = await _run(path, store)
            other = write_eval(
                tmp_path / "other",
                srv.base_url,
                20,
                store=store_url,
                target={"model": "m-2026-09-09"},
            )
            with pytest.raises(UsageError, match="different config"):
                await _run(other, store, run_id=first.run_id)


async def test_failed_calls_are_stored_and_retried_on_resume(
    tmp_path: Path, store_url: str
) -> None:
    from nullband.testserver.reply import Reply, ServerRequest

    broken = {"on": True}

    def responder(req: ServerRequest) -> Reply | None:
        if broken["on"] and req.case_id in {"c00003", "c00007"}:
            return Reply(status=400)  # not retried
        return None

    async with TestServer(responder=responder) as srv:
        path = write_eval(tmp_path, srv.base_url, 10, store=store_url)
        with open_store(store_url) as store:
            first = await _run(path, store)
            assert first.status == "completed"
            assert first.errors == 2
            rows = result_rows(store, first.run_id)
            assert rows[("c00003", "cand", 0)]["status"] == "error"
            assert rows[("c00003", "cand", 0)]["scores"] == {}  # error records get no scores
            broken["on"] = False
            second = await _run(path, store, run_id=first.run_id)
            assert (second.skipped, second.ok, second.errors) == (8, 2, 0)
            assert all(r["status"] == "ok" for r in result_rows(store, first.run_id).values())
    assert not any(srv.stats.after_success().values())


async def test_epochs_and_two_targets_make_every_key(tmp_path: Path, store_url: str) -> None:
    async with TestServer() as srv:
        t = {"base_url": srv.base_url, "concurrency": 4, "timeout_s": 2.0}
        targets = [
            {"name": "a", "model": "m-2026-01-01", **t},
            {"name": "b", "model": "m-2026-02-01", **t},
        ]
        path = write_eval(
            tmp_path, srv.base_url, 15, store=store_url, targets=targets, extra={"epochs": 3}
        )
        with open_store(store_url) as store:
            summary = await _run(path, store)
            keys = set(result_rows(store, summary.run_id))
            # case bodies are stored with the run, so re-scoring needs no suite file
            bodies = {c.id for c in store.iter_cases(summary.run_id)}
    assert summary.total == 15 * 2 * 3
    assert keys == {(f"c{i:05d}", t, e) for i in range(15) for t in "ab" for e in range(3)}
    assert srv.stats.requests("c00000/b/2") == 1
    assert bodies == {f"c{i:05d}" for i in range(15)}
