"""The audit finds every planted problem, flags no clean trace, and both engines agree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from traces_helpers import CorpusFiles, write_jsonl

from nullband.traces.audit import audit_traces
from nullband.traces.audit_models import AuditConfig, AuditReport
from nullband.traces.fastaudit import audit_file_fast
from nullband.traces.ingest import iter_steps, iter_traces, read_traces
from nullband.traces.pipeline import audit_file, load_audit_config
from nullband.traces.synth import PROBLEMS, RESULT_SCHEMAS, TOOLS, synth_corpus


def _config(files: CorpusFiles) -> AuditConfig:
    return load_audit_config(
        tools_path=files.tools, result_schemas_path=files.results, ground_truth_path=files.truth
    )


def _score(report: AuditReport, files: CorpusFiles) -> tuple[int, int, int, set[str]]:
    tp = fp = fn = 0
    flagged_clean: set[str] = set()
    for a in report.traces:
        got = {f.code for f in a.flags}
        want = files.corpus.expected_flags(a.trace_id)
        tp += len(got & want)
        fp += len(got - want)
        fn += len(want - got)
        if not want and a.verdict != "clean":
            flagged_clean.add(a.trace_id)
    return tp, fp, fn, flagged_clean


def test_audit_finds_every_planted_problem_and_flags_no_clean_trace(planted: CorpusFiles) -> None:
    report = audit_file(planted.steps, _config(planted), engine="python")
    tp, fp, fn, flagged_clean = _score(report, planted)
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    print(f"audit precision {precision:.4f} recall {recall:.4f} (tp={tp} fp={fp} fn={fn})")
    assert flagged_clean == set()
    assert recall == 1.0
    assert precision == 1.0
    # every kind of problem was planted at least a few times, so each rule was exercised
    planted_kinds = {p for p in planted.corpus.planted.values() if p}
    assert planted_kinds == set(PROBLEMS)
    by_id = {a.trace_id: a for a in report.traces}
    for tid, problem in planted.corpus.planted.items():
        expected = (
            "corrupted" if problem and problem.startswith(("tool_args", "tool_result")) else "noisy"
        )
        assert by_id[tid].verdict == (expected if problem else "clean"), (tid, problem)


@pytest.mark.parametrize(
    "extra",
    [{}, {"timing_factor": 1.1, "flag_fast": True, "ignore": ["retry"], "min_class_size": 50}],
)
def test_fast_engine_gives_the_same_report(planted: CorpusFiles, extra: dict[str, object]) -> None:
    cfg = _config(planted).model_copy(update=extra)
    slow = audit_file(planted.steps, cfg, engine="python")
    fast = audit_file_fast(planted.steps, cfg, processes=2, chunk_mb=1)
    assert fast.summary.engine == "fast"
    assert [a.model_dump() for a in sorted(fast.traces, key=lambda a: a.trace_id)] == [
        a.model_dump() for a in sorted(slow.traces, key=lambda a: a.trace_id)
    ]
    assert fast.summary.verdicts == slow.summary.verdicts
    assert fast.summary.classes == slow.summary.classes


def test_flag_reasons_name_the_values(planted: CorpusFiles) -> None:
    report = audit_file(planted.steps, _config(planted), engine="python")
    reasons = {f.code: f.reason for a in report.traces for f in a.flags}
    assert "claude-sonnet-4-6" in reasons["fallback"]
    assert (
        "served gpt-4o-mini-2024-07-18" in reasons["model_mismatch"]
        or "claude" in reasons["model_mismatch"]
    )
    assert "x median" in reasons["slow_span"]
    assert "retries" in reasons["retry"]


def test_timing_factor_and_class_size_are_configurable() -> None:
    corpus = synth_corpus(300, seed=11, problem_rate=0.0)
    traces = list(iter_traces(_steps(corpus.spans)))
    # clean spans vary within +-20% of their base, so a factor of 1.1 flags some of them
    strict = audit_traces(traces, AuditConfig(timing_factor=1.1))
    assert strict.summary.flags.get("slow_span", 0) > 0
    loose = audit_traces(traces, AuditConfig())
    assert loose.summary.flags.get("slow_span", 0) == 0
    thin = audit_traces(traces, AuditConfig(timing_factor=1.1, min_class_size=10_000))
    assert "slow_span" not in thin.summary.flags
    assert all(c.state == "not_enough_data" and c.median_ms is None for c in thin.summary.classes)


def test_pinned_snapshot_and_severity_override() -> None:
    base = {"trace_id": "t1", "kind": "llm", "duration_ms": 5.0}
    steps = [
        {
            **base,
            "step_id": "a",
            "model_requested": "openai/gpt-4o",
            "model_served": "gpt-4o-2024-08-06",
        },
    ]
    traces = list(iter_traces(_steps(steps)))
    assert audit_traces(traces).traces[0].verdict == "noisy"  # alias resolved to a snapshot
    pinned = AuditConfig(pinned={"openai/gpt-4o": "gpt-4o-2024-08-06"})
    assert audit_traces(traces, pinned).traces[0].verdict == "clean"
    swapped = [{**steps[0], "model_served": "gpt-4o-2024-11-20"}]
    report = audit_traces(list(iter_traces(_steps(swapped))), pinned)
    assert [f.code for f in report.traces[0].flags] == ["model_mismatch"]
    severe = AuditConfig(severity={"model_mismatch": "corrupted"})
    assert audit_traces(list(iter_traces(_steps(swapped))), severe).traces[0].verdict == "corrupted"


def test_failed_trace_and_unoffered_tool_are_corrupted() -> None:
    steps = [
        {
            "trace_id": "t",
            "step_id": "1",
            "kind": "llm",
            "started_at": "2026-05-01T00:00:00Z",
            "tool_definitions": [{"type": "function", "function": {"name": "a", "parameters": {}}}],
            "output_message": {
                "role": "assistant",
                "tool_calls": [
                    {"id": "c", "type": "function", "function": {"name": "b", "arguments": "{}"}}
                ],
            },
        },
        {
            "trace_id": "t",
            "step_id": "2",
            "kind": "llm",
            "status": "error",
            "error_type": "Timeout",
            "started_at": "2026-05-01T00:00:01Z",
        },
    ]
    audit = audit_traces(list(iter_traces(_steps(steps)))).traces[0]
    codes = [f.code for f in audit.flags]
    assert codes == ["tool_args_invalid", "step_error", "trace_failed"]
    assert "not offered" in audit.flags[0].reason
    assert audit.verdict == "corrupted"


def test_spilled_grouping_equals_in_memory(planted: CorpusFiles, tmp_path: Path) -> None:
    in_mem = {t.trace_id: t for t in read_traces(planted.steps)}
    spilled = list(
        iter_traces(iter_steps(planted.steps), max_in_memory=100, partitions=8, spill_dir=tmp_path)
    )
    assert len(spilled) == len(in_mem)
    for t in spilled:
        assert t == in_mem[t.trace_id]
    assert list(tmp_path.iterdir()) == []  # spill files are removed


@pytest.mark.parametrize("engine", ["python", "fast"])
def test_cli_keep_clean_writes_only_clean_traces(
    planted: CorpusFiles, tmp_path: Path, engine: str
) -> None:
    out = tmp_path / "train.jsonl"
    report = tmp_path / "audit.jsonl"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "nullband",
            "traces",
            "audit",
            str(planted.steps),
            "--tools",
            str(planted.tools),
            "--result-schemas",
            str(planted.results),
            "--ground-truth",
            str(planted.truth),
            "--keep",
            "clean",
            "--keep-out",
            str(out),
            "--report",
            str(report),
            "--engine",
            engine,
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    summary = orjson.loads(proc.stdout)
    clean = [t for t, p in planted.corpus.planted.items() if p is None]
    assert summary["summary"]["verdicts"]["clean"] == len(clean) == summary["kept"]
    rows = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert len(rows) == len(clean)
    kept_cases = {r["messages"][1]["content"].split(":")[0] for r in rows}
    assert kept_cases == {f"Case {int(t[1:])}" for t in clean}
    assert all(r["messages"][-1]["role"] == "assistant" and r["tools"] for r in rows)
    audits = [orjson.loads(x) for x in report.read_bytes().splitlines()]
    assert len(audits) == 1500
    assert all(a["schema_version"] == 1 for a in audits)
    assert summary["summary"]["engine"] == engine
    # one line per trace, its verdict as the summary counts it
    assert {v: sum(a["verdict"] == v for a in audits) for v in ("clean", "noisy", "corrupted")} == (
        summary["summary"]["verdicts"]
    )


def test_cli_bad_input_names_file_and_line(tmp_path: Path) -> None:
    bad = write_jsonl(
        tmp_path / "s.jsonl",
        [{"trace_id": "t", "step_id": "1"}, {"trace_id": "t", "step_id": "2", "kind": "robot"}],
    )
    proc = subprocess.run(
        [sys.executable, "-m", "nullband", "traces", "audit", str(bad), "--format", "generic"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert f"{bad}:2: field 'kind'" in proc.stderr


def _steps(rows: list[dict[str, object]]) -> list:  # type: ignore[type-arg]
    from nullband.traces.schema import Step

    return [Step.model_validate(r) for r in rows]


@pytest.mark.parametrize("schemas", [TOOLS, RESULT_SCHEMAS])
def test_synth_schemas_are_valid_json_schema(schemas: dict[str, object]) -> None:
    import jsonschema

    for s in schemas.values():
        jsonschema.Draft202012Validator.check_schema(s)
