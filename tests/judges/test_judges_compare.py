"""Judge scores in a comparison: repeats averaged per case (the interval reflects case
sampling), and a gate on an untrusted judge is INVALID."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from judges_scripted import ScriptedJudge, write_pairwise_items
from scipy import stats as sps

from nullband.compare.gate_config import load_gate
from nullband.compare.run import run_comparison
from nullband.judges.audit_run import AuditConfig, run_audit
from nullband.records import ModelInfo, Provenance, Record, ResultRow
from nullband.score.judge import RubricJudgeScorer
from nullband.suite.case import Case
from nullband.testserver import TestServer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "judges"
N_CASES = 40
REPEATS = 3


async def _rows(srv: TestServer, grades: list[int], side: str) -> list[ResultRow]:
    scorer = RubricJudgeScorer(
        judge={"name": "judge-a", "base_url": srv.base_url, "model": "judge-1"},
        repeats=REPEATS,
        temperature=0.7,
        cache=None,
    )
    rows = []
    try:
        for i, g in enumerate(grades):
            case = Case(id=f"c{i:02d}", prompt=f"question {i}")
            rec = Record(
                run_id=side,
                case_id=case.id,
                case_hash=case.content_hash(),
                target=side,
                request_hash="h",
                status="ok",
                output_text=f"{side} answer grade={g}",
                provenance=Provenance(requested="m", served="m"),
                created_at=datetime.now(UTC),
            )
            res = await scorer.ascore(case, rec)
            rows.append(
                ResultRow(
                    case_id=case.id,
                    case_hash=case.content_hash(),
                    scores=res.values,
                    model=ModelInfo(requested="m", served="m"),
                )
            )
    finally:
        await scorer.aclose()
    return rows


def test_repeats_are_averaged_per_case_and_the_interval_resamples_cases(
    judge_server: tuple[TestServer, ScriptedJudge],
) -> None:
    srv, judge = judge_server
    judge.noise, judge.seed = 0.4, 8  # each repeat may say grade+1
    rng = np.random.default_rng(0)
    base_grades = rng.integers(2, 5, N_CASES).tolist()
    cand_grades = [min(4, g + int(rng.random() < 0.4)) for g in base_grades]
    baseline = asyncio.run(_rows(srv, base_grades, "base"))
    candidate = asyncio.run(_rows(srv, cand_grades, "cand"))
    assert judge.calls == 2 * N_CASES * REPEATS
    cmp = run_comparison(baseline, candidate, metric="judge_rubric", resamples=4000, seed=1)
    overall = cmp.overall
    assert overall.n == N_CASES  # one value per case, not one per repeat
    assert overall.kind == "continuous"
    d = np.array(
        [
            c.scores["judge_rubric"] - b.scores["judge_rubric"]
            for b, c in zip(baseline, candidate, strict=True)
        ]  # type: ignore[operator]
    )
    # the per-case score is a mean of 3 repeats, so it is not on the 5-point lattice
    assert any(
        abs(v * 4 - round(v * 4)) > 1e-9 for r in candidate for v in [r.scores["judge_rubric"]]
    )  # type: ignore[operator]
    oracle = sps.bootstrap(
        (d,), np.mean, n_resamples=4000, method="percentile", random_state=1
    ).confidence_interval
    assert overall.delta == pytest.approx(d.mean(), abs=1e-12)
    assert overall.delta_ci is not None
    # an independent percentile bootstrap over cases: limits agree to bootstrap noise
    assert overall.delta_ci[0] == pytest.approx(oracle.low, abs=0.012)
    assert overall.delta_ci[1] == pytest.approx(oracle.high, abs=0.012)


def test_gate_on_an_untrusted_judge_is_invalid(
    tmp_path: Path, judge_server: tuple[TestServer, ScriptedJudge]
) -> None:
    srv, judge = judge_server
    judge.first_bias = 1.0  # a judge that always names the first answer
    write_pairwise_items(tmp_path / "items.jsonl", 20)
    cfg = AuditConfig.model_validate(
        {
            "mode": "pairwise",
            "items": "items.jsonl",
            "samples": 2,
            "judges": [{"name": "judge-a", "base_url": srv.base_url, "model": "judge-1"}],
            "bootstrap": {"resamples": 200},
        }
    )
    audit = asyncio.run(run_audit(cfg, base_dir=tmp_path))
    assert not audit.trusted
    rows = [
        ResultRow(case_id=f"c{i}", scores={"judge_pairwise": 0.5 + 0.5 * (i % 2)})
        for i in range(30)
    ]
    gate = load_gate(EXAMPLES / "gate-judge.yaml")
    audit_json = audit.model_dump(mode="json")
    cmp = run_comparison(rows, rows, gate=gate, judge_audit=audit_json, resamples=500)
    assert cmp.gate is not None
    assert cmp.gate.decision == "INVALID"
    assert cmp.gate.exit_code == 4
    assert any("judges" in r and "not trusted" in r for r in cmp.gate.reasons)
    allowed = gate.model_copy(
        update={"judge": gate.judge.model_copy(update={"allow_untrusted_judge": True})}
    )
    cmp = run_comparison(rows, rows, gate=allowed, judge_audit=audit_json, resamples=500)
    assert cmp.gate is not None
    assert cmp.gate.decision != "INVALID"
    # no audit at all is INVALID too
    cmp = run_comparison(rows, rows, gate=gate, judge_audit=None, resamples=500)
    assert cmp.gate is not None
    assert cmp.gate.decision == "INVALID"
