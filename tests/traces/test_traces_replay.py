"""Replay suites from traces, and the adversarial set that only grows."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from nullband.errors import UsageError
from nullband.suite.case import Case
from nullband.suite.loader import load_cases
from nullband.traces.adversarial import AdversarialSet, AdversarialSetError, merge
from nullband.traces.ingest import iter_traces
from nullband.traces.replay import TOOL_SCORER, trace_to_case, traces_to_cases, write_suite
from nullband.traces.schema import Step
from nullband.traces.scrub import ScrubSession
from nullband.traces.synth import RESULT_SCHEMAS, TOOLS, synth_corpus


def _scrubbed(n: int, seed: int = 1) -> list:  # type: ignore[type-arg]
    corpus = synth_corpus(n, seed=seed, problem_rate=0.0)
    session = ScrubSession()
    steps = [Step.model_validate(s) for s in corpus.spans]
    return [session.scrub_trace(t) for t in iter_traces(steps)]


def test_tool_call_trace_becomes_a_trajectory_case(tmp_path: Path) -> None:
    st = _scrubbed(3)[0]
    case = trace_to_case(st)
    assert case is not None
    assert case.id == f"replay-{st.trace.trace_id}"
    assert case.scorers == [TOOL_SCORER]
    assert case.expected == [
        {"name": "crm_lookup", "arguments": {"customer_id": "C000000", "fields": ["tier"]}}
    ]
    assert case.tool_results == [
        {
            "name": "crm_lookup",
            "arguments": {"customer_id": "C000000", "fields": ["tier"]},
            "output": '{"customer_id":"C000000","tier":"gold"}',
        }
    ]
    assert [m["role"] for m in case.messages()] == ["system", "user"]
    assert case.tools is not None
    assert case.segments["task_class"] == "account_review"
    assert case.metadata["source_trace_id"] == st.trace.trace_id
    path = tmp_path / "suite.jsonl"
    write_suite(traces_to_cases(_scrubbed(5)), path)
    loaded = load_cases(path)  # the suite loader accepts what we write
    assert len(loaded) == 5


def test_free_text_trace_uses_the_judge_when_configured() -> None:
    session = ScrubSession()
    step = Step(
        trace_id="t",
        step_id="s",
        input_messages=[{"role": "user", "content": "hi, I'm ann@example.com"}],
        output_message={"role": "assistant", "content": "Hello! I emailed ann@example.com."},
    )
    st = session.scrub_trace(next(iter(iter_traces([step]))))
    case = trace_to_case(st, judge="judge_pairwise")
    assert case is not None
    assert case.expected == "Hello! I emailed <EMAIL_1>."
    assert case.scorers == ["judge_pairwise"]
    assert trace_to_case(st).scorers is None  # type: ignore[union-attr]
    with pytest.raises(UsageError, match="needs scrubbed traces"):
        trace_to_case(st.trace)  # type: ignore[arg-type]


def _case(i: int, text: str = "x") -> Case:
    return Case(id=f"adv-{i}", prompt=f"{text} {i}", expected="y")


def test_adversarial_set_grows_and_refuses_removal(tmp_path: Path) -> None:
    path = tmp_path / "adv.jsonl"
    s = AdversarialSet(path)
    assert s.load() == []
    assert s.add([_case(1), _case(2)]) == 2
    assert s.add([_case(2), _case(3)]) == 1  # same id and content: skipped
    assert [c.id for c in s.load()] == ["adv-1", "adv-2", "adv-3"]
    assert all(c.adversarial for c in s.load())
    with pytest.raises(UsageError, match="already in the adversarial set with other content"):
        s.add([_case(1, "changed")])
    with pytest.raises(UsageError, match="only grows"):
        s.remove("adv-1")
    lines = path.read_bytes().splitlines(keepends=True)
    # removing a middle line breaks the chain at the next line
    path.write_bytes(lines[0] + lines[2])
    with pytest.raises(
        AdversarialSetError, match=r"adv.jsonl:2: hash chain broken at case 'adv-3'"
    ):
        s.load()
    # removing the last line disagrees with the manifest
    path.write_bytes(lines[0] + lines[1])
    with pytest.raises(AdversarialSetError, match="manifest records 3 cases but the file holds 2"):
        s.load()
    with pytest.raises(AdversarialSetError):
        s.add([_case(9)])  # no appending onto a tampered set
    # editing a case's content is also caught
    row = orjson.loads(lines[1])
    row["case"]["expected"] = "z"
    path.write_bytes(lines[0] + orjson.dumps(row) + b"\n" + lines[2])
    with pytest.raises(AdversarialSetError, match="hash chain broken at case 'adv-2'"):
        s.load()
    path.unlink()
    with pytest.raises(AdversarialSetError, match="file is missing but its manifest exists"):
        s.load()


def test_merge_marks_and_weights_adversarial_cases() -> None:
    suite = [Case(id="a", prompt="p")]
    merged = merge(suite, [_case(1)], weight=3.0)
    assert [(c.id, c.adversarial, c.weight) for c in merged] == [
        ("a", False, 1.0),
        ("adv-1", True, 3.0),
    ]
    with pytest.raises(UsageError, match="in both the suite and the adversarial set"):
        merge([Case(id="adv-1", prompt="p")], [_case(1)])


def test_cli_to_suite_with_adversarial_merge(tmp_path: Path) -> None:
    corpus = synth_corpus(60, seed=4, problem_rate=0.3)
    steps = tmp_path / "steps.jsonl"
    steps.write_bytes(b"".join(orjson.dumps(s) + b"\n" for s in corpus.spans))
    (tmp_path / "tools.json").write_bytes(orjson.dumps(TOOLS))
    (tmp_path / "results.json").write_bytes(orjson.dumps(RESULT_SCHEMAS))
    truth = tmp_path / "truth.jsonl"
    truth.write_bytes(
        b"".join(
            orjson.dumps({"step_id": k, "result": v}) + b"\n"
            for k, v in corpus.ground_truth.items()
        )
    )
    adv = tmp_path / "adv.jsonl"
    AdversarialSet(adv).add([_case(1), _case(2)])
    out = tmp_path / "suite.jsonl"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "nullband",
            "traces",
            "to-suite",
            str(steps),
            "--only",
            "clean",
            "-n",
            "20",
            "--tools",
            str(tmp_path / "tools.json"),
            "--result-schemas",
            str(tmp_path / "results.json"),
            "--ground-truth",
            str(truth),
            "--adversarial",
            str(adv),
            "--adversarial-weight",
            "2.5",
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    cases = load_cases(out)
    replay = [c for c in cases if not c.adversarial]
    clean = {t for t, p in corpus.planted.items() if p is None}
    assert len(replay) == 20
    assert {c.metadata["source_trace_id"] for c in replay} <= clean
    assert all("cluster" in c.segments for c in replay)
    assert [(c.id, c.weight) for c in cases if c.adversarial] == [("adv-1", 2.5), ("adv-2", 2.5)]
    proc = subprocess.run(
        [sys.executable, "-m", "nullband", "traces", "adversarial", "remove", str(adv), "adv-1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert "only grows" in proc.stderr


def test_replay_case_scores_with_the_tool_call_scorer() -> None:
    import asyncio
    from datetime import UTC, datetime

    from nullband.config.models import ScorerSpec
    from nullband.records import Provenance, Record, ToolCall
    from nullband.score.registry import load_scorers, score_record

    importlib.import_module("nullband.score.toolcalls.builtins")  # registers 'tool_calls'

    case = trace_to_case(_scrubbed(1)[0])
    assert case is not None
    (scorer,) = load_scorers([ScorerSpec(name=TOOL_SCORER)])

    def record(args: str) -> Record:
        return Record(
            run_id="r",
            case_id=case.id,
            case_hash=case.content_hash(),
            target="t",
            request_hash="h",
            status="ok",
            tool_calls=[ToolCall(id="c", name="crm_lookup", arguments=args)],
            provenance=Provenance(requested="m"),
            created_at=datetime.now(UTC),
        )

    same, _ = asyncio.run(
        score_record(case, record('{"customer_id": "C000000", "fields": ["tier"]}'), [scorer])
    )
    other, _ = asyncio.run(
        score_record(case, record('{"customer_id": "C999999", "fields": ["tier"]}'), [scorer])
    )
    assert same["pass"] == 1.0
    assert other["pass"] == 0.0
