"""The embedded model (SmolLM2-135M via llama-cpp-python) on a BFCL subset, end to end:
import, run two configurations, per-tool signals with intervals, per-tool paired deltas.

A 135M model calls tools poorly; the test checks that every stage works on real model
output (tool calls, malformed or not), not the model's quality.
"""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path

import pytest
import yaml

import nullband.score.toolcalls.builtins  # noqa: F401  (registers the tool scorers)
from nullband.config.models import EvalConfig
from nullband.config.yamlfile import load_yaml_model
from nullband.run.runner import run_eval
from nullband.score.toolcalls.breakdown import SIGNALS, compare_tools, rows_for, summarize
from nullband.store import open_store
from nullband.suite.importers import import_bfcl_dir, write_suite

pytestmark = pytest.mark.slow

N_CASES = 4


@pytest.mark.timeout(1500)
def test_embedded_model_on_bfcl_subset(shared_data: Path, tmp_path: Path) -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama_cpp is not importable (install the 'local' extra)")
    from nullband.demo.llama import LlamaServer, find_gguf

    class FunctionCallingServer(LlamaServer):
        """llama.cpp's server with its function-calling chat format (tool calls on)."""

        def command(self) -> list[str]:
            return [*super().command(), "--chat_format", "chatml-function-calling"]

    cases = import_bfcl_dir(shared_data / "bfcl", categories=["simple"], limit=N_CASES)
    write_suite(cases, tmp_path / "bfcl.jsonl")
    store_path = str(tmp_path / "runs.db")
    with FunctionCallingServer(find_gguf(), "smollm2") as srv:
        params = {"temperature": 0, "max_tokens": 48}
        targets = [
            {
                "name": "plain",
                "base_url": srv.base_url,
                "model": "smollm2",
                "params": params,
                "concurrency": 1,
                "timeout_s": 600,
            },
            {
                "name": "prompted",
                "base_url": srv.base_url,
                "model": "smollm2",
                "params": params,
                "concurrency": 1,
                "timeout_s": 600,
                "system_prompt": "Answer by calling exactly one of the tools with JSON arguments.",
            },
        ]
        cfg = {
            "suite": "bfcl.jsonl",
            "targets": targets,
            "scorers": ["tool_calls", "bfcl"],
            "store": store_path,
            "retries": {"max_attempts": 2},
        }
        path = tmp_path / "eval.yaml"
        path.write_text(yaml.safe_dump(cfg))
        config = load_yaml_model(path, EvalConfig)
        with open_store(store_path) as store:
            summary = asyncio.run(run_eval(config, config_path=path, store=store, progress=False))
            records = list(store.iter_records(summary.run_id))
    assert len(records) == 2 * N_CASES
    ok = [r for r in records if r.status == "ok"]
    assert ok, [r.error for r in records]
    assert all("bfcl" in r.scores and "selection" in r.scores for r in ok)
    rows = rows_for(cases, records)
    assert set(rows) == {"plain", "prompted"}
    for target, target_rows in rows.items():
        table = summarize(target, target_rows, resamples=200)
        tools = {s.tool for s in table}
        assert len(tools) == N_CASES + 1  # one tool per simple case, plus "(all)"
        assert {s.metric for s in table} == set(SIGNALS)
        sel = [s for s in table if s.metric == "selection" and s.n]
        assert sel
        assert all(s.ci is not None or s.reason for s in sel)
    deltas = compare_tools(rows["plain"], rows["prompted"], resamples=200)
    per_tool = {d.tool for d in deltas if d.metric == "selection" and d.summary is not None}
    assert len(per_tool) >= 2  # "(all)" and at least one tool
