"""The demo's suite and configs, run through the real runner against the test server.

An oracle responder answers every case correctly (arithmetic computed from the prompt
text itself; other kinds from a reply written for the case), so every case must pass:
this catches a gold answer or a scorer choice that a right answer could not satisfy.
A responder that always answers wrongly must fail every case.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from nullband.config import EvalConfig, load_yaml_model
from nullband.demo import pass_table
from nullband.demo.orchestrate import _prepare
from nullband.run.runner import run_eval
from nullband.store import open_store
from nullband.suite import load_cases
from nullband.testserver import Reply, ServerRequest, TestServer

REPO = Path(__file__).resolve().parents[2]
SUITE = REPO / "examples" / "suite.jsonl"
CONFIGS = [REPO / "examples" / "demo" / n for n in ("baseline.yaml", "candidate.yaml")]
FORMAT_REPLIES = {
    "format-00": "YES",
    "format-01": "Ok.",
    "format-02": "APPLE",
    "format-03": "1, 2, 3",
    "format-04": "Yes, the sun is a star.",
    "format-05": "False.",
}
_ARITH = re.compile(r"What is (\d+) (\+|-|times) (\d+)\?")


def _oracle(req: ServerRequest) -> Reply:
    cid = req.case_id or ""
    text = req.last_user_text
    if cid.startswith("arith-"):
        m = _ARITH.search(text)
        assert m is not None, text
        a, op, b = int(m.group(1)), m.group(2), int(m.group(3))
        value = a + b if op == "+" else a - b if op == "-" else a * b
        return Reply(content=f"{a} {op} {b} = {value}")
    if cid.startswith("extract-person-"):
        # The name is the first capitalised word after "Text:" other than "At".
        name = re.findall(r"\b(?!At\b)[A-Z][a-z]+", text.split("Text:", 1)[1])[0]
        age = re.findall(r"\d+", text.split("Text:", 1)[1])[0]
        return Reply(content=json.dumps({"age": int(age), "name": name}))
    if cid in FORMAT_REPLIES:
        return Reply(content=FORMAT_REPLIES[cid])
    gold = CASES[cid].expected
    if isinstance(gold, dict):
        return Reply(content="```json\n" + json.dumps(gold) + "\n```")
    return Reply(content=f"The answer is {gold}.")


CASES = {c.id: c for c in load_cases(SUITE)}


def test_suite_shape() -> None:
    kinds = Counter(c.segments["kind"] for c in CASES.values())
    assert len(CASES) == 100
    assert kinds == {"arithmetic": 30, "extraction": 25, "tool_choice": 25, "factual": 20}
    assert {c.segments["difficulty"] for c in CASES.values()} == {"easy", "hard"}
    assert all(c.scorers and len(c.scorers) == 1 for c in CASES.values())


@pytest.mark.parametrize("config_path", CONFIGS, ids=lambda p: p.stem)
def test_oracle_passes_every_case_and_system_prompt_arrives(
    config_path: Path, tmp_path: Path
) -> None:
    config = load_yaml_model(config_path, EvalConfig)
    system_prompt = config.targets[0].system_prompt
    seen_system: list[str] = []

    def responder(req: ServerRequest) -> Reply:
        first = req.messages[0]
        seen_system.append(first["content"] if first["role"] == "system" else "")
        return _oracle(req)

    async def main() -> None:
        store_path = str(tmp_path / "demo.db")
        async with TestServer(responder=responder) as srv:
            cfg = _prepare(config, srv.base_url, config.targets[0].model, store_path)
            summary = await run_eval(cfg, config_path=config_path, progress=False)
            assert summary.status == "completed"
            assert srv.stats.after_success() == {}
        st = open_store(store_path)
        try:
            table = pass_table(st.iter_records(summary.run_id), CASES.values(), "kind")
        finally:
            st.close()
        failed = {k: (t.failed, t.errors, t.unscored) for k, t in table.groups.items()}
        assert table.overall.passed == 100, failed
        assert set(table.groups) == {"arithmetic", "extraction", "factual", "tool_choice"}

    asyncio.run(main())
    assert len(seen_system) == 100
    assert set(seen_system) == {system_prompt}


def test_wrong_answers_fail_every_case(tmp_path: Path) -> None:
    config = load_yaml_model(CONFIGS[0], EvalConfig)

    async def main() -> None:
        store_path = str(tmp_path / "demo.db")
        async with TestServer({"default_content": "I cannot help with that."}) as srv:
            cfg = _prepare(config, srv.base_url, config.targets[0].model, store_path)
            summary = await run_eval(cfg, config_path=CONFIGS[0], progress=False)
        st = open_store(store_path)
        try:
            table = pass_table(st.iter_records(summary.run_id), CASES.values(), "kind")
        finally:
            st.close()
        assert (table.overall.passed, table.overall.failed) == (0, 100)
        assert table.overall.rate == 0.0

    asyncio.run(main())
