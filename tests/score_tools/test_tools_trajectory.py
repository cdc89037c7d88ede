"""Trajectory signals and tau-bench metrics, checked against separate implementations."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from nullband.errors import StatsError
from nullband.score.trajectory import TrajectoryScorer, pass_hat_k, recovery
from nullband.suite.importers import import_taubench


def _transcript(
    steps: list[tuple[str, dict[str, Any], str]], final: str | None
) -> list[dict[str, Any]]:
    msgs: list[dict[str, Any]] = [{"role": "user", "content": "go"}]
    for i, (name, args, result) in enumerate(steps):
        msgs.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": f"c{i}",
                        "type": "function",
                        "function": {"name": name, "arguments": json.dumps(args)},
                    }
                ],
            }
        )
        msgs.append({"role": "tool", "tool_call_id": f"c{i}", "content": result})
    if final is not None:
        msgs.append({"role": "assistant", "content": final})
    return msgs


GOLD = {
    "steps": [
        {"name": "search", "arguments": {"q": "paris"}},
        {"name": "book", "arguments": {"id": "F1", "date": "2026-05-26"}},
    ],
    "final_answer": "booked F1",
}


def test_signals_on_a_recovering_trajectory(mkcase, rec):
    msgs = _transcript(
        [
            ("search", {"q": ""}, "Error: empty query"),
            ("search", {"q": "Paris"}, '[{"id": "F1"}]'),
            ("think", {"thought": "pick F1"}, ""),
            ("book", {"id": "F1", "date": "May 26, 2026"}, "ok"),
        ],
        "Done: booked F1.",
    )
    res = TrajectoryScorer().score(mkcase(GOLD), rec(messages=msgs))
    v = res.values
    assert v["traj_selection"] == 1.0
    assert v["traj_arg_f1"] == 1.0
    assert v["recovery"] == 1.0
    assert v["length_delta"] == 2.0
    assert v["loop"] == 0.0
    assert v["final_answer"] == 1.0
    assert res.passed


def test_identical_retry_is_not_recovery_and_three_failures_are_a_loop(mkcase, rec):
    same = ("search", {"q": "x"}, "Error: down")
    msgs = _transcript([same, same, same, ("search", {"q": "paris"}, "[]")], "sorry")
    res = TrajectoryScorer().score(mkcase(GOLD), rec(messages=msgs))
    # Errors 1 and 2 are followed by an identical repeat; error 3 by a different call
    # of the same tool that succeeds.
    assert res.values["recovery"] == pytest.approx(1 / 3)
    assert res.values["loop"] == 1.0
    assert res.values["traj_selection"] == 0.5  # book never called
    assert res.values["final_answer"] == 0.0
    assert not res.passed


def test_no_errors_gives_no_recovery_value(mkcase, rec):
    msgs = _transcript([("search", {"q": "paris"}, "[]")], "x")
    assert TrajectoryScorer().score(mkcase(GOLD), rec(messages=msgs)).values["recovery"] is None


def test_alignment_skips_extra_lookups_without_shifting(mkcase, rec):
    msgs = _transcript(
        [
            ("lookup", {}, "a"),
            ("search", {"q": "paris"}, "b"),
            ("lookup", {}, "c"),
            ("book", {"id": "F2", "date": "2026-05-26"}, "ok"),
        ],
        "booked F1",
    )
    res = TrajectoryScorer().score(mkcase(GOLD), rec(messages=msgs))
    assert res.values["traj_selection"] == 1.0
    # search exact (1.0); book with a wrong id and a right date (0.5)
    assert res.values["traj_arg_f1"] == pytest.approx(0.75)
    assert res.values["length_delta"] == 2.0


def test_pass_hat_k_definition_and_not_enough_trials():
    assert pass_hat_k([(4, 4), (2, 4), (0, 4)], 1) == pytest.approx(6 / 12)
    assert pass_hat_k([(4, 4), (2, 4), (0, 4)], 2) == pytest.approx((1 + 1 / 6) / 3)
    with pytest.raises(StatsError, match="at least 5 trials"):
        pass_hat_k([(4, 4)], 5)


# --- tau-bench: the shared trajectories against an independent reading of the raw file ---


def _oracle_recovery(traj: list[dict[str, Any]]) -> tuple[int, int]:
    """Recovery from the definition, on the raw messages: an error result is recovered when
    the next call is not the same (name, arguments) and a later call of the same tool has a
    result that does not start with "Error"."""
    calls: list[list[Any]] = []  # [name, args, result, id]
    for m in traj:
        for tc in m.get("tool_calls") or []:
            args = json.dumps(json.loads(tc["function"]["arguments"]), sort_keys=True)
            calls.append([tc["function"]["name"], args, None, tc["id"]])
        if m["role"] == "tool":  # the first unanswered call with this id (ids repeat)
            target = next(c for c in calls if c[3] == m["tool_call_id"] and c[2] is None)
            target[2] = m["content"]
    errors = recovered = 0
    for i, (name, args, res, _) in enumerate(calls):
        if res is None or not res.startswith("Error"):
            continue
        errors += 1
        later_ok = any(
            n == name and r is not None and not r.startswith("Error")
            for n, _, r, _ in calls[i + 1 :]
        )
        if i + 1 < len(calls) and calls[i + 1][:2] != (name, args) and later_ok:
            recovered += 1
    return recovered, errors


def _oracle_pass_k(rows: list[dict[str, Any]], k: int) -> float:
    """pass^k by enumerating every k-subset of each task's trials."""
    by_task: dict[int, list[bool]] = {}
    for r in rows:
        by_task.setdefault(r["task_id"], []).append(abs(r["reward"] - 1) < 1e-6)
    per_task = []
    for trials in by_task.values():
        subsets = list(itertools.combinations(trials, k))
        per_task.append(sum(all(s) for s in subsets) / len(subsets))
    return sum(per_task) / len(per_task)


@pytest.fixture
def taubench(shared_data):
    path = shared_data / "taubench" / "gpt-4o-airline_tasks0-4_4trials.json"
    return json.loads(path.read_text()), import_taubench(path)


def test_taubench_recovery_matches_independent_computation(taubench):
    raw, (_cases, records) = taubench
    scorer = TrajectoryScorer()
    by_key = {(r.case_id, r.epoch): r for r in records}
    tot_rec = tot_err = 0
    for row in raw:
        record = by_key[(f"taubench-airline-{row['task_id']}", row["trial"])]
        taken, _ = scorer.taken(record)
        got = recovery(taken)
        assert got == _oracle_recovery(row["traj"])
        tot_rec += got[0]
        tot_err += got[1]
    assert tot_err == 16  # every "Error..." tool message in the 20 trajectories
    assert 0 < tot_rec <= tot_err


def test_taubench_pass_hat_k_matches_enumeration(taubench):
    raw, (_, records) = taubench
    by_case: dict[str, list[float]] = {}
    for r in records:
        by_case.setdefault(r.case_id, []).append(r.scores["pass"])
    counts = [(int(sum(v)), len(v)) for v in by_case.values()]
    for k in range(1, 5):
        assert pass_hat_k(counts, k) == pytest.approx(_oracle_pass_k(raw, k), abs=1e-12)
    assert pass_hat_k(counts, 1) == pytest.approx(sum(r["reward"] for r in raw) / len(raw))


def test_taubench_run_summary_pools_recovery_and_passk(taubench):
    from nullband.score.toolcalls.trajectories import summarize_trajectories

    raw, (cases, records) = taubench
    (s,) = summarize_trajectories(cases, records, resamples=500)
    rec = sum(_oracle_recovery(row["traj"])[0] for row in raw)
    err = sum(_oracle_recovery(row["traj"])[1] for row in raw)
    assert (s.recovered, s.tool_errors) == (rec, err)
    assert s.recovery_rate == pytest.approx(rec / err)
    assert s.recovery_ci is not None
    assert s.recovery_ci[0] <= s.recovery_rate <= s.recovery_ci[1]
    assert s.trajectories == 20
    assert s.tool_calls == sum(len(m.get("tool_calls") or []) for r in raw for m in r["traj"])
    for k in range(1, 5):
        assert s.pass_k[str(k)] == pytest.approx(_oracle_pass_k(raw, k), abs=1e-12)
