"""tau-bench trajectories -> nullband cases and records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nullband.errors import InputError
from nullband.records import Record
from nullband.suite import load_cases
from nullband.suite.importers import import_taubench, write_suite


@pytest.fixture
def path(shared_data: Path) -> Path:
    return shared_data / "taubench" / "gpt-4o-airline_tasks0-4_4trials.json"


def test_one_case_per_task_and_one_record_per_trial(path: Path):
    raw = json.loads(path.read_text())
    cases, records = import_taubench(path, run_id="tb", target="gpt-4o")
    assert [c.id for c in cases] == [f"taubench-airline-{i}" for i in range(5)]
    assert len(records) == 20
    assert sorted({r.epoch for r in records}) == [0, 1, 2, 3]
    by_key = {(r.case_id, r.epoch): r for r in records}
    for row in raw:
        rec = by_key[f"taubench-airline-{row['task_id']}", row["trial"]]
        assert rec.messages == row["traj"]
        assert rec.scores["reward"] == row["reward"]
        n_calls = sum(len(m.get("tool_calls") or []) for m in row["traj"])
        assert len(rec.tool_calls) == n_calls
        case = next(c for c in cases if c.id == rec.case_id)
        assert rec.case_hash == case.content_hash()
    task0 = raw[0]["info"]["task"]
    steps = cases[0].expected["steps"]
    assert [s["name"] for s in steps] == [a["name"] for a in task0["actions"]]
    assert steps[0]["arguments"] == task0["actions"][0]["kwargs"]
    assert cases[0].input[-1]["role"] == "user"


def test_recorded_outputs_cover_every_answered_call(path: Path):
    raw = json.loads(path.read_text())
    cases, _ = import_taubench(path)
    outputs = {
        (e["name"], json.dumps(e["arguments"], sort_keys=True)): e["output"]
        for c in cases
        for e in c.tool_results or []
    }
    for row in raw:
        answered = {m["tool_call_id"] for m in row["traj"] if m["role"] == "tool"}
        for m in row["traj"]:
            for tc in m.get("tool_calls") or []:
                if tc["id"] in answered:
                    key = (
                        tc["function"]["name"],
                        json.dumps(json.loads(tc["function"]["arguments"]), sort_keys=True),
                    )
                    assert key in outputs


def test_round_trip_of_suite_and_records(path: Path, tmp_path: Path):
    cases, records = import_taubench(path)
    write_suite(cases, tmp_path / "s.jsonl")
    write_suite(records, tmp_path / "r.jsonl")
    assert len(load_cases(tmp_path / "s.jsonl")) == 5
    lines = (tmp_path / "r.jsonl").read_text().splitlines()
    assert Record.model_validate_json(lines[0]).case_id == records[0].case_id


def test_not_a_taubench_file(tmp_path: Path):
    p = tmp_path / "x.json"
    p.write_text('{"a": 1}')
    with pytest.raises(InputError, match="tau-bench results"):
        import_taubench(p)
