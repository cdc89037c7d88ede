"""A real eval run with a judge scorer: scores land in the store, and a second run reads
the judge's replies from the cache instead of paying for them again."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from nullband.config.models import EvalConfig
from nullband.run.runner import run_eval
from nullband.store import open_store
from nullband.store.export import iter_result_rows
from nullband.testserver import Reply, ServerRequest, TestServer


def test_run_with_a_pairwise_judge_and_the_judge_cache(tmp_path: Path) -> None:
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
                            "judge": {"name": "j", "base_url": srv.base_url, "model": "judge-1"},
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
