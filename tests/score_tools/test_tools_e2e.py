"""End to end: the runner against the test server, then per-tool signals and deltas.

Two targets answer the same suite. "base" gets every call right; "cand" picks the same
tools but shifts every date of the date-range tool by a day and loops on a failing call
in trajectories. The per-tool table must show argument F1 collapsing on the date-range
tool while selection stays flat, and recovery dropping.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

import nullband.score.toolcalls.builtins  # noqa: F401  (registers the tool scorers)
from nullband.config.models import EvalConfig
from nullband.config.yamlfile import load_yaml_model
from nullband.run.runner import run_eval
from nullband.score.toolcalls.breakdown import compare_tools, rows_for, summarize
from nullband.store import open_store
from nullband.suite import load_cases
from nullband.testserver import Reply, ServerRequest, TestServer

SEARCH = {
    "type": "function",
    "function": {
        "name": "search_flights",
        "parameters": {
            "type": "object",
            "required": ["origin", "date_from", "date_to"],
            "properties": {
                "origin": {"type": "string"},
                "date_from": {"type": "string"},
                "date_to": {"type": "string"},
            },
        },
    },
}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "required": ["city"],
            "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
        },
    },
}
CITIES = ["Paris", "Rome", "Oslo", "Lima", "Kyiv", "Doha", "Nice", "Bern", "Riga", "Graz"]


def _suite() -> list[dict[str, Any]]:
    cases = []
    for i in range(20):
        day = 1 + i
        gold = {
            "origin": CITIES[i % 10],
            "date_from": f"2026-05-{day:02d}",
            "date_to": f"2026-06-{day:02d}",
        }
        cases.append(
            {
                "id": f"s{i}",
                "prompt": f"flights {i}",
                "tools": [SEARCH, WEATHER],
                "expected": [{"name": "search_flights", "arguments": gold}],
                "segments": {"kind": "search"},
                "scorers": ["tool_calls"],
            }
        )
        cases.append(
            {
                "id": f"w{i}",
                "prompt": f"weather {i}",
                "tools": [SEARCH, WEATHER],
                "expected": [{"name": "get_weather", "arguments": {"city": CITIES[i % 10]}}],
                "segments": {"kind": "weather"},
                "scorers": ["tool_calls"],
            }
        )
    for i in range(8):
        city = CITIES[i]
        cases.append(
            {
                "id": f"t{i}",
                "prompt": f"trip {i}",
                "tools": [SEARCH, WEATHER],
                "tool_results": [
                    {"name": "get_weather", "arguments": {"city": city}, "output": "sunny"}
                ],
                "expected": {
                    "steps": [{"name": "get_weather", "arguments": {"city": city}}],
                    "final_answer": "sunny",
                },
                "scorers": ["trajectory"],
            }
        )
    return cases


def _dates(args: dict[str, str], shift: bool) -> dict[str, str]:
    if not shift:  # spelled differently from the gold, on purpose: normalisation must hold
        return {k: _spell(v) if k.startswith("date") else v for k, v in args.items()}
    return {
        k: (v[:-2] + f"{int(v[-2:]) % 28 + 1:02d}" if k.startswith("date") else v)
        for k, v in args.items()
    }


def _spell(iso: str) -> str:
    y, m, d = iso.split("-")
    return f"{['May', 'June'][int(m) - 5]} {int(d)}, {y}"


def _responder(cases: dict[str, dict[str, Any]]):
    def respond(req: ServerRequest) -> Reply | None:
        case = cases[req.case_id or ""]
        bad = req.model == "cand"
        if "steps" in (case.get("expected") or {}):
            tool_msgs = [m for m in req.messages if m.get("role") == "tool"]
            city = case["expected"]["steps"][0]["arguments"]["city"]
            if tool_msgs and "sunny" in tool_msgs[-1]["content"]:
                return Reply(content="It is sunny.")
            if bad and len(tool_msgs) >= 3:
                return Reply(content="I could not find out.")
            if not tool_msgs or bad:  # a first wrong call; "cand" keeps repeating it
                return Reply(
                    tool_calls=[{"name": "get_weather", "arguments": {"city": "Atlantis"}}]
                )
            return Reply(tool_calls=[{"name": "get_weather", "arguments": {"city": city}}])
        call = case["expected"][0]
        args = (
            _dates(call["arguments"], bad)
            if call["name"] == "search_flights"
            else call["arguments"]
        )
        return Reply(tool_calls=[{"name": call["name"], "arguments": args}])

    return respond


@pytest.mark.timeout(120)
def test_run_then_per_tool_signals_and_paired_deltas(tmp_path: Path) -> None:
    suite = _suite()
    (tmp_path / "suite.jsonl").write_bytes(b"\n".join(orjson.dumps(c) for c in suite) + b"\n")
    store_path = str(tmp_path / "runs.db")

    async def go() -> str:
        async with TestServer(responder=_responder({c["id"]: c for c in suite})) as srv:
            targets = [
                {"name": n, "base_url": srv.base_url, "model": n, "concurrency": 8}
                for n in ("base", "cand")
            ]
            cfg = {
                "suite": "suite.jsonl",
                "targets": targets,
                "epochs": 2,
                "max_steps": 6,
                "scorers": ["tool_calls", "trajectory"],
                "store": store_path,
            }
            path = tmp_path / "eval.yaml"
            path.write_text(yaml.safe_dump(cfg))
            config = load_yaml_model(path, EvalConfig)
            with open_store(store_path) as store:
                summary = await run_eval(config, config_path=path, store=store, progress=False)
            return summary.run_id

    run_id = asyncio.run(go())
    cases = load_cases(tmp_path / "suite.jsonl")
    with open_store(store_path) as store:
        records = list(store.iter_records(run_id))
    assert len(records) == len(suite) * 2 * 2
    base_scores = [r.scores for r in records if r.target == "base"]
    assert all(s.get("pass") == 1.0 for s in base_scores), base_scores[:3]

    rows = rows_for(cases, records)
    table = {(s.tool, s.metric): s for s in summarize("cand", rows["cand"], resamples=500)}
    for tool in ("search_flights", "get_weather"):
        for metric in ("selection", "arg_f1", "length_delta"):
            s = table[tool, metric]
            assert s.n > 0
            assert s.ci is not None
    assert table["get_weather", "recovery"].n == 8 * 2  # one row per trajectory and epoch
    assert table["get_weather", "recovery"].mean == 0.0  # "cand" only repeats the failing call

    deltas = {
        (d.tool, d.metric): d.summary
        for d in compare_tools(rows["base"], rows["cand"], resamples=2000)
    }
    search_f1 = deltas["search_flights", "arg_f1"]
    assert search_f1.delta == pytest.approx(-2 / 3)  # 2 of 3 required leaves wrong
    assert search_f1.delta_ci is not None
    assert search_f1.delta_ci[1] < 0
    assert deltas["search_flights", "selection"].delta == 0.0
    # single-turn weather calls are identical on both targets; in trajectories "cand"
    # calls the right tool with a wrong city, which lowers its weather F1 there
    single = {t: [r for r in rows[t] if "kind" in r.segments] for t in rows}
    single_deltas = {
        (d.tool, d.metric): d.summary
        for d in compare_tools(single["base"], single["cand"], resamples=500)
    }
    assert single_deltas["get_weather", "arg_f1"].delta == 0.0
    assert deltas["get_weather", "arg_f1"].delta < 0
    assert deltas["get_weather", "length_delta"].delta > 0  # the loops added calls
    assert deltas["get_weather", "recovery"].delta == -1.0  # "base" recovered every error
