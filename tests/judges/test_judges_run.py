"""A real eval run with a judge scorer: scores land in the store, and a second run reads
the judge's replies from the cache instead of paying for them again."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from nullband._cli.main import main
from nullband.config.models import EvalConfig
from nullband.run.runner import run_eval
from nullband.store import open_store
from nullband.store.export import iter_result_rows
from nullband.testserver import Reply, ServerRequest, TestServer


def test_run_with_a_pairwise_judge_and_the_judge_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    n = 6
    lines = [
        json.dumps({"id": f"c{i}", "prompt": f"question {i}", "metadata": {"prod": f"old {i}"}})
        for i in range(n)
    ]
    (tmp_path / "suite.jsonl").write_text("\n".join(lines) + "\n")
    judge_calls: list[str] = []

    def responder(req: ServerRequest) -> Reply:
        text = req.last_user_text
        if "<answer_a>" not in text:
            return Reply(content="new answer")  # the candidate target
        judge_calls.append(req.case_key or "")
        first = text.split("<answer_b>")[0]
        return Reply(content="[[A]]" if "new answer" in first else "[[B]]")

    with TestServer(responder=responder) as srv:
        config = EvalConfig.model_validate(
            {
                "suite": "suite.jsonl",
                "targets": [{"name": "cand", "base_url": srv.base_url, "model": "cand-1"}],
                "scorers": [
                    {
                        "name": "judge_pairwise",
                        "options": {
                            "judge": {
                                "name": "j",
                                "base_url": srv.base_url,
                                "model": "judge-1",
                                "prices": {"input_per_mtok": 100.0, "output_per_mtok": 100.0},
                            },
                            "reference_from": "metadata.prod",
                            "cache": str(tmp_path / "judge-cache.db"),
                        },
                    }
                ],
                "store": str(tmp_path / "runs.db"),
            }
        )
        first = asyncio.run(run_eval(config, config_path=tmp_path / "c.yaml", progress=False))
        assert len(judge_calls) == 2 * n  # both orders per case
        assert {k.rsplit("/", 1)[1] for k in judge_calls} == {"fwd", "swp"}
        second = asyncio.run(run_eval(config, config_path=tmp_path / "c.yaml", progress=False))
        assert len(judge_calls) == 2 * n  # the new run's judge replies all came from the cache
    store = open_store(tmp_path / "runs.db")
    for summary in (first, second):
        rows = list(iter_result_rows(store, summary.run_id))
        assert len(rows) == n
        for row in rows:
            assert row.scores["judge_pairwise"] == 1.0
            assert row.scores["judge_pairwise_inconsistent"] == 0.0
    store.close()
    # `nullband judge summary`: records per judge metric, and usage per run from the ledger
    out = _summary(capsys, first.run_id, tmp_path)
    assert out["metrics"] == [
        {
            "metric": "judge_pairwise",
            "records": n,
            "scored": n,
            "dropped": 0,
            "dropped_share": 0.0,
            "unreadable": 0,
            "failed": 0,
            "not_asked": 0,
            "other": 0,
            "mean": 1.0,
            "inconsistent_share": 0.0,
        }
    ]
    (u1,) = out["usage"]
    assert (u1["judge"], u1["calls"], u1["cache_hits"]) == ("j", 2 * n, 0)
    assert u1["input_tokens"] > 0
    assert u1["cost_usd"] == pytest.approx((u1["input_tokens"] + u1["output_tokens"]) * 100 / 1e6)
    (u2,) = _summary(capsys, second.run_id, tmp_path)["usage"]
    assert (u2["calls"], u2["cache_hits"], u2["cost_usd"]) == (0, 2 * n, 0.0)


def _summary(capsys: pytest.CaptureFixture[str], run_id: str, tmp: Path) -> dict[str, Any]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as done:
        main(
            [
                "judge",
                "summary",
                run_id,
                "--store",
                str(tmp / "runs.db"),
                "--ledger",
                str(tmp / "judge-cache.db"),
                "--json",
            ]
        )
    assert done.value.code in (0, None)
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]
