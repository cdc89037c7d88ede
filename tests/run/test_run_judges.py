"""Judge scorers inside a run: their calls count against the run's spend and budget cap.

The test server plays both parts: it echoes the prompt for the target model and answers
as a rubric judge (``{"score": 4}``) for the judge model. Prices are per million tokens,
so ``1_000_000`` is one USD per token; token counts come from the server's tokenizer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from runner_helpers import write_eval

from nullband.config.models import EvalConfig
from nullband.config.yamlfile import load_yaml_model
from nullband.run.runner import run_eval
from nullband.store import open_store
from nullband.testserver.reply import Reply, ServerRequest
from nullband.testserver.server import TestServer
from nullband.testserver.tokens import count_tokens

pytestmark = pytest.mark.anyio

JUDGE_REPLY = '{"score": 4}'
TARGET_PRICE = {"input_per_mtok": 0.0, "output_per_mtok": 1_000_000.0}  # 1 USD / token
JUDGE_PRICE = {"input_per_mtok": 0.0, "output_per_mtok": 500_000.0}  # 0.5 USD / token


class _Both:
    """Responder: judge replies for the judge model, echo (None) for the target."""

    def __init__(self) -> None:
        self.judge_calls = 0
        self.target_calls = 0

    def __call__(self, req: ServerRequest) -> Reply | None:
        if req.body.get("model") == "judge-2026-01-01":
            self.judge_calls += 1
            return Reply(content=JUDGE_REPLY)
        self.target_calls += 1
        return None  # the server's default: echo the prompt


def _config(tmp_path: Path, base_url: str, n: int, budget: dict[str, Any] | None) -> Path:
    judge = {
        "name": "j",
        "base_url": base_url,
        "model": "judge-2026-01-01",
        "prices": JUDGE_PRICE,
    }
    extra: dict[str, Any] = {
        "scorers": [
            "exact",
            {"name": "judge_rubric", "options": {"judge": judge, "cache": None}},
        ]
    }
    if budget is not None:
        extra["budget"] = budget
    return write_eval(
        tmp_path,
        base_url,
        n,
        store=str(tmp_path / "runs.db"),
        target={"prices": TARGET_PRICE, "concurrency": 1},
        extra=extra,
    )


async def _run(path: Path, store: Any) -> Any:
    cfg = load_yaml_model(path, EvalConfig)
    return await run_eval(cfg, config_path=path, store=store, progress=False)


async def test_run_spend_includes_judge_calls(tmp_path: Path) -> None:
    both = _Both()
    judge_cost = count_tokens(JUDGE_REPLY, "words") * 0.5
    async with TestServer(responder=both) as srv:
        path = _config(tmp_path, srv.base_url, 6, None)
        with open_store(tmp_path / "runs.db") as store:
            summary = await _run(path, store)
            stored_usd, _ = store.spend(summary.run_id)
            recs = list(store.iter_records(summary.run_id))
            totals = store.run_totals([summary.run_id])[summary.run_id]
    record_usd = sum(r.cost_usd for r in recs)
    assert summary.status == "completed"
    assert both.judge_calls == 6
    assert all(r.scores["judge_rubric_grade"] == 4.0 for r in recs)
    assert summary.judge_spend_usd == pytest.approx(6 * judge_cost)
    assert summary.spend_usd == pytest.approx(record_usd + 6 * judge_cost)
    assert summary.run_spend_usd == pytest.approx(summary.spend_usd)
    # the store keeps the judges' spend with the run (records alone would miss it)
    assert stored_usd == pytest.approx(summary.spend_usd)
    assert totals["usd"] == pytest.approx(summary.spend_usd)


async def test_budget_cap_stops_judge_calls_too(tmp_path: Path) -> None:
    """One call at a time: eval 2 USD, judge 1 USD; a cap of 8 USD is reached by the third
    eval call (2+1+2+1+2), so its judge call is refused and no fourth eval call starts."""
    both = _Both()
    target_cost = count_tokens("echo 0", "words") * 1.0
    judge_cost = count_tokens(JUDGE_REPLY, "words") * 0.5
    assert (target_cost, judge_cost) == (2.0, 1.0)  # the arithmetic in the docstring
    async with TestServer(responder=both) as srv:
        path = _config(tmp_path, srv.base_url, 20, {"usd": 8.0})
        with open_store(tmp_path / "runs.db") as store:
            summary = await _run(path, store)
            recs = list(store.iter_records(summary.run_id))
    assert summary.status == "stopped_budget"
    assert both.target_calls == 3
    assert both.judge_calls == 2  # the third record's judge call was refused by the cap
    assert summary.judge_spend_usd == pytest.approx(2.0)
    assert summary.spend_usd == pytest.approx(8.0)
    unjudged = [r for r in recs if "judge_rubric_grade" not in r.scores]
    assert len(recs) == 3
    assert len(unjudged) == 1
    assert "judge not asked" in unjudged[0].score_reasons.get("judge_rubric", "")


@pytest.mark.parametrize("store_mode", ["given", "process"])
async def test_resume_counts_what_the_judges_spent_before(
    tmp_path: Path, store_mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eval calls 2 USD, judge calls 1 USD, one at a time. The first run stops at its
    8 USD cap (2+1+2+1+2; the third record's judge call is refused). Resumed with a 13 USD
    cap, 5 USD are left: 2+1+2, so exactly two more eval calls. Had the store forgotten
    the judges' 2 USD, 7 would seem left and a third eval call would start."""
    both = _Both()
    async with TestServer(responder=both) as srv:
        path = _config(tmp_path, srv.base_url, 20, {"usd": 8.0})
        if store_mode == "process":  # the run opens its store in a child process
            monkeypatch.setenv("NULLBAND_STORE_PROCESS", "1")
            first = await _run(path, None)
        else:
            with open_store(tmp_path / "runs.db") as store:
                first = await _run(path, store)
        assert first.status == "stopped_budget"
        assert (both.target_calls, both.judge_calls) == (3, 2)
        text = path.read_text().replace("usd: 8.0", "usd: 13.0")
        assert text != path.read_text()
        path.write_text(text)
        cfg = load_yaml_model(path, EvalConfig)
        if store_mode == "process":
            second = await run_eval(cfg, config_path=path, run_id=first.run_id, progress=False)
        else:
            with open_store(tmp_path / "runs.db") as store:
                second = await run_eval(
                    cfg, config_path=path, run_id=first.run_id, store=store, progress=False
                )
        with open_store(tmp_path / "runs.db") as store:
            stored_usd, _ = store.spend(first.run_id)
    assert second.status == "stopped_budget"
    assert (both.target_calls, both.judge_calls) == (5, 3)
    assert second.run_spend_usd == pytest.approx(13.0)
    assert stored_usd == pytest.approx(13.0)
