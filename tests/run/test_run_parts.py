"""Runner parts: trajectories, streaming, metrics, scoring and record building."""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from runner_helpers import write_eval

from nullband.config.models import EvalConfig, ScorerSpec
from nullband.config.yamlfile import load_yaml_model
from nullband.records import Attempt, Provenance, Record, Usage
from nullband.run.plan import Shard
from nullband.run.runner import run_eval
from nullband.score.base import AsyncScorer, ScoreResult, merge_results
from nullband.score.registry import ScorerSet, load_scorers, score_record
from nullband.store import open_store
from nullband.suite.case import Case
from nullband.targets._fast import build
from nullband.testserver.reply import Reply, ServerRequest
from nullband.testserver.server import TestServer

pytestmark = pytest.mark.anyio


async def _run(config_path: Path, store: Any, **kw: Any) -> Any:
    cfg = load_yaml_model(config_path, EvalConfig)
    return await run_eval(cfg, config_path=config_path, store=store, progress=False, **kw)


async def test_tool_result_cases_are_played_turn_by_turn(tmp_path: Path) -> None:
    def responder(req: ServerRequest) -> Reply:
        if req.messages[-1].get("role") == "tool":
            return Reply(content=f"It is {req.messages[-1]['content']}.")
        return Reply(tool_calls=[{"name": "weather", "arguments": {"city": "Oslo"}}])

    case = {
        "id": "w1",
        "prompt": "Weather in Oslo?",
        "tools": [{"type": "function", "function": {"name": "weather", "parameters": {}}}],
        "tool_results": [{"name": "weather", "arguments": {"city": "Oslo"}, "output": "sunny"}],
        "expected": "It is sunny.",
    }
    async with TestServer(responder=responder) as srv:
        path = write_eval(tmp_path, srv.base_url, 0, store=str(tmp_path / "r.db"))
        (tmp_path / "suite.jsonl").write_text(json.dumps(case) + "\n")
        with open_store(tmp_path / "r.db") as store:
            summary = await _run(path, store)
            (rec,) = list(store.iter_records(summary.run_id))
    assert summary.ok == 1
    assert rec.output_text == "It is sunny."
    assert [t.name for t in rec.tool_calls] == ["weather"]
    assert rec.messages is not None
    assert [m["role"] for m in rec.messages] == ["user", "assistant", "tool", "assistant"]
    assert len(rec.attempts) == 2  # two model calls, both kept
    assert rec.scores["pass"] == 1.0


async def test_streaming_target_records_ttft(tmp_path: Path) -> None:
    async with TestServer({"latency": {"ttft_s": 0.05, "per_token_s": 0.005}}) as srv:
        path = write_eval(tmp_path, srv.base_url, 20, store="x", target={"stream": True})
        with open_store(tmp_path / "r.db") as store:
            summary = await _run(path, store)
            recs = list(store.iter_records(summary.run_id))
    assert len(recs) == 20
    assert all(r.ttft_s is not None and 0.05 <= r.ttft_s <= (r.latency_s or 0) for r in recs)
    assert all(r.scores["pass"] == 1.0 for r in recs)  # streamed text reassembled exactly


async def test_metrics_endpoint_serves_series_by_target_and_served_model(
    tmp_path: Path,
) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = {
        "served_model": "m-2026-01-01",
        "switch": {"after": 20, "served_model": "m-2026-03-01"},
        "latency": {"ttft_s": 0.02},
        "faults": {"rate_500": 0.2, "seed": 2},
    }
    async with TestServer(cfg) as srv:
        path = write_eval(tmp_path, srv.base_url, 150, store="x", target={"concurrency": 4})
        with open_store(tmp_path / "r.db") as store:
            task = asyncio.create_task(_run(path, store, metrics_port=port))
            text = ""
            for _ in range(400):
                await asyncio.sleep(0.02)
                try:
                    text = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/metrics")
                except OSError:
                    continue
                if 'served_model="m-2026-03-01"' in text and "nullband_errors_total" in text:
                    break
            summary = await task
    assert summary.status == "completed"
    assert re.search(
        r'nullband_requests_total\{served_model="m-2026-01-01",status="ok",target="cand"\} \d', text
    )
    assert (
        'nullband_requests_total{served_model="m-2026-03-01"' in text
    )  # the drift is a new series
    assert 'nullband_errors_total{error_class="server",target="cand"}' in text
    assert "nullband_request_latency_seconds_bucket" in text
    assert 'nullband_tokens_total{kind="output"' in text
    assert "nullband_retries_total" in text
    with pytest.raises(urllib.error.URLError):  # the endpoint stops with the run
        _get(f"http://127.0.0.1:{port}/metrics")


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=2) as resp:
        return resp.read().decode()


def _record(case: Case, text: str | None, status: str = "ok") -> Record:
    now = datetime.now(UTC)
    return Record(
        run_id="r",
        case_id=case.id,
        case_hash=case.content_hash(),
        target="t",
        request_hash="h",
        status=status,  # type: ignore[arg-type]
        output_text=text,
        provenance=Provenance(requested="m"),
        created_at=now,
    )


class _Boom:
    name = "boom"

    def score(self, case: Case, record: Record) -> ScoreResult:
        raise RuntimeError("scorer bug")


class _AsyncLen:
    name = "alen"

    async def ascore(self, case: Case, record: Record) -> ScoreResult:
        await asyncio.sleep(0)
        return ScoreResult(values={"len": float(len(record.output_text or ""))}, passed=True)


async def _oracle_scores(
    case: Case, record: Record, scorers: list[Any]
) -> tuple[dict[str, float | None], dict[str, str]]:
    """The per-record contract spelled out plainly: classify each scorer on every call."""
    if record.status != "ok":
        return {}, {}
    chosen = [s for s in scorers if case.scorers is None or s.name in case.scorers]
    results = []
    for s in chosen:
        try:
            if isinstance(s, AsyncScorer) and inspect.iscoroutinefunction(s.ascore):
                res = await s.ascore(case, record)
            else:
                res = s.score(case, record)
        except Exception as exc:
            res = ScoreResult(reason=f"{s.name} raised {type(exc).__name__}: {exc}")
        results.append((s.name, res))
    return merge_results(results)


async def test_scorer_set_equals_per_record_classification() -> None:
    """The runner's ScorerSet (classified once) scores like classifying every record."""
    scorers = [
        *load_scorers([ScorerSpec(name="exact"), ScorerSpec(name="contains")]),
        _Boom(),
        _AsyncLen(),
    ]
    scoring = ScorerSet(scorers)  # type: ignore[arg-type]
    cases = [
        Case(id="a", prompt="p", expected="yes"),
        Case(id="b", prompt="p", expected="yes", scorers=["contains", "alen"]),
        Case(id="c", prompt="p", expected=["no", "yes"]),
    ]
    for case in cases:
        for text, status in [("yes", "ok"), ("no way", "ok"), (None, "ok"), (None, "error")]:
            rec = _record(case, text, status)
            oracle = await _oracle_scores(case, rec, scorers)
            assert await scoring.score(case, rec) == oracle, (case.id, text, status)
            # score_record with a plain list, and with the set, agree too.
            assert await score_record(case, rec, scorers) == oracle  # type: ignore[arg-type]
            assert await score_record(case, rec, scoring) == oracle


def test_fast_build_equals_validated_models() -> None:
    now = datetime.now(UTC)
    fields: dict[str, dict[str, Any]] = {
        "attempt": {
            "n": 2,
            "started_at": now,
            "latency_s": 0.1,
            "status": 429,
            "error_class": "rate_limit",
            "error": "HTTP 429",
            "retry_after_s": 1.0,
        },
        "usage": {"input_tokens": 3, "output_tokens": 4, "cached_tokens": 1},
        "prov": {
            "requested": "a",
            "routed": "b",
            "served": "c",
            "fingerprint": "f",
            "provider": "p",
            "cache": "miss",
            "fallback": True,
            "mismatch": True,
            "gateway_retries": 2,
        },
    }
    for cls, key in ((Attempt, "attempt"), (Usage, "usage"), (Provenance, "prov")):
        fast, slow = build(cls, dict(fields[key])), cls.model_validate(fields[key])
        assert fast == slow
        assert fast.model_dump_json() == slow.model_dump_json()
        assert set(cls.model_fields) == set(fields[key])  # every field is given


def test_shards_partition_keys_deterministically() -> None:
    keys = [(f"c{i}", t, e) for i in range(500) for t in ("a", "b") for e in range(2)]
    shards = [Shard.parse(f"{i}/3") for i in (1, 2, 3)]
    owners = [[s for s in shards if s.owns(k)] for k in keys]
    assert all(len(o) == 1 for o in owners)  # each key in exactly one shard
    sizes = [sum(o[0] is s for o in owners) for s in shards]
    assert min(sizes) > 500  # 2000 keys, roughly a third each (binomial sd ~ 21)
    for bad in ("0/4", "5/4", "x", "1/0"):
        with pytest.raises(Exception, match="--shard"):
            Shard.parse(bad)


async def test_shard_without_run_id_is_refused(tmp_path: Path) -> None:
    from nullband.errors import UsageError

    path = write_eval(tmp_path, "http://127.0.0.1:9/v1", 3, store=str(tmp_path / "r.db"))
    with pytest.raises(UsageError, match="needs --run-id"):
        await _run(path, None, shard="1/2")


def test_stored_config_masks_secret_headers_and_db_password(tmp_path: Path) -> None:
    from nullband.run.plan import load_plan

    path = write_eval(
        tmp_path,
        "http://127.0.0.1:9/v1",
        2,
        store="x",
        target={"headers": {"x-portkey-api-key": "pk-123", "x-team": "evals"}},
    )
    cfg = load_yaml_model(path, EvalConfig)
    cfg = cfg.model_copy(update={"store": "postgresql://nb:hunter2@127.0.0.1:5432/evals"})
    stored = load_plan(cfg, path).stored_config()
    assert stored["targets"][0]["headers"] == {"x-portkey-api-key": "***", "x-team": "evals"}
    assert stored["store"] == "postgresql://nb:***@127.0.0.1:5432/evals"  # no DB password
    assert yaml.safe_load(path.read_text())["targets"][0]["headers"]["x-team"] == "evals"


class _FailingStore:
    """The real store, except that the second batch of records fails to write."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.batches = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def write_records(self, records: Any, **kw: Any) -> None:
        from nullband.errors import StoreError

        self.batches += 1
        if self.batches == 2:
            raise StoreError("disk full (simulated)")
        self.real.write_records(records, **kw)


async def test_store_failure_fails_the_run_with_the_store_error(tmp_path: Path) -> None:
    from nullband.errors import StoreError

    async with TestServer({"latency": {"ttft_s": 0.005}}) as srv:
        path = write_eval(tmp_path, srv.base_url, 300, store="x", target={"concurrency": 4})
        with open_store(tmp_path / "r.db") as real:
            store = _FailingStore(real)
            with pytest.raises(StoreError, match="disk full"):
                await _run(path, store, run_id="doomed")
            run = real.get_run("doomed")
    assert run is not None
    assert run.status == "failed"
    assert "disk full" in (run.note or "")


class _NoCreateStore(_FailingStore):
    """The real store, except that creating a run fails."""

    def __init__(self, real: Any) -> None:
        super().__init__(real)
        self.written = 0

    def ensure_run(self, run: Any, **kw: Any) -> Any:
        from nullband.errors import StoreError

        raise StoreError("cannot create the run (simulated)")

    def write_records(self, records: Any, **kw: Any) -> None:
        self.written += len(records)
        self.real.write_records(records, **kw)


async def test_new_run_whose_creation_fails_writes_no_record(tmp_path: Path) -> None:
    """A new run's calls start while the run is created; if creating it fails the run
    fails with that error, calls stop, and no record is written for the missing run."""
    from nullband.errors import StoreError

    async with TestServer({"latency": {"ttft_s": 0.005}}) as srv:
        path = write_eval(tmp_path, srv.base_url, 300, store="x", target={"concurrency": 4})
        with open_store(tmp_path / "r.db") as real:
            store = _NoCreateStore(real)
            with pytest.raises(StoreError, match="cannot create the run"):
                await _run(path, store)
            assert real.list_runs() == []
        calls = srv.stats.snapshot()["total_requests"]
    assert store.written == 0
    assert calls < 300  # stopped early, not the whole suite


async def test_sharded_run_with_error_records_ends_completed(tmp_path: Path) -> None:
    """The last shard to finish marks the run completed (with a note) even when some keys
    ended as error records, as an unsharded run does; it never stays 'running'."""

    def responder(req: ServerRequest) -> Reply | None:
        if req.case_key is not None and req.case_key.startswith("c00003/"):
            return Reply(status=400, content="bad request")  # not retried: an error record
        return None  # echo

    db = tmp_path / "r.db"
    async with TestServer(responder=responder) as srv:
        path = write_eval(tmp_path, srv.base_url, 12, store=str(db))
        with open_store(db) as store:
            first = await _run(path, store, run_id="sharded-err", shard="1/2")
            second = await _run(path, store, run_id="sharded-err", shard="2/2")
            run = store.get_run("sharded-err")
    assert first.errors + second.errors == 1
    assert first.status == "running"  # the other shard had not run yet
    assert second.status == "completed"
    assert run is not None
    assert run.status == "completed"
    assert "1 call(s) failed" in (run.note or "")


async def test_gateway_retry_count_lands_in_provenance(tmp_path: Path) -> None:
    """A LiteLLM-style header saying how often the gateway retried is stored per record."""

    def responder(req: ServerRequest) -> Reply:
        n = int(req.last_user_text.split()[-1])
        return Reply(
            content=req.last_user_text,
            headers={"x-litellm-attempted-retries": str(n % 3)},
        )

    db = tmp_path / "r.db"
    async with TestServer(responder=responder) as srv:
        path = write_eval(tmp_path, srv.base_url, 6, store=str(db), target={"gateway": "litellm"})
        with open_store(db) as store:
            summary = await _run(path, store)
            recs = {r.case_id: r for r in store.iter_records(summary.run_id)}
    assert {cid: r.provenance.gateway_retries for cid, r in recs.items()} == {
        f"c{i:05d}": i % 3 for i in range(6)
    }
    # an old record body without the field still reads (None)
    old = Provenance.model_validate({"requested": "m"})
    assert old.gateway_retries is None


async def test_writer_bounds_waiting_records_and_reports_only_committed() -> None:
    """put() waits while queue_size records wait; every record is written once, in order,
    and reported through on_commit only after its batch's write returned."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from nullband.run.writer import RecordWriter

    gate = threading.Event()
    written: list[str] = []
    committed: list[str] = []

    class _SlowStore:
        def write_records(self, recs: Any, **kw: Any) -> None:
            gate.wait(5)
            written.extend(r.case_id for r in recs)

    def rec(i: int) -> Any:
        return Record(
            run_id="r",
            case_id=f"c{i}",
            case_hash="h",
            target="t",
            request_hash="q",
            status="ok",
            provenance=Provenance(requested="m"),
            created_at=datetime.now(UTC),
        )

    ex = ThreadPoolExecutor(1)
    w = RecordWriter(
        _SlowStore(),  # type: ignore[arg-type]
        ex,
        lambda b: committed.extend(r.case_id for r in b),
        max_batch=2,
        queue_size=3,
    )
    task = asyncio.create_task(w.run())
    # The first put wakes the writer, which takes c0 and blocks in the store.
    await w.put(rec(0))
    await asyncio.sleep(0.05)
    for i in range(1, 4):
        await w.put(rec(i))  # three wait: the buffer is full
    blocked = asyncio.create_task(w.put(rec(4)))
    await asyncio.sleep(0.05)
    assert not blocked.done()  # bounded: the fourth waiting record has to wait
    assert committed == []  # nothing reported before its write returned
    gate.set()
    await blocked
    await w.close()
    await task
    ex.shutdown()
    order = [f"c{i}" for i in range(5)]
    assert written == order
    assert committed == order
