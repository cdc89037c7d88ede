"""The audit against a scripted judge on the real test server: it recovers a known flip
rate and a known position bias within its intervals."""

from __future__ import annotations

import asyncio
import json
from math import comb
from pathlib import Path

import numpy as np
import pytest
from judges_scripted import ScriptedJudge, write_pairwise_items
from sklearn.metrics import cohen_kappa_score

from nullband.judges.audit_run import AuditConfig, run_audit
from nullband.judges.pairwise import combine
from nullband.judges.parse import parse_verdict
from nullband.testserver import TestServer


def expected_flip(p: float, k: int) -> float:
    """E[1 - modal share] of k Bernoulli(p) answers, by exact enumeration."""
    return sum(
        comb(k, x) * p**x * (1 - p) ** (k - x) * (1 - max(x, k - x) / k) for x in range(k + 1)
    )


def _config(srv: TestServer, items: Path, **extra: object) -> AuditConfig:
    data: dict[str, object] = {
        "mode": "pairwise",
        "items": items.name,
        "judges": [{"name": "scripted", "base_url": srv.base_url, "model": "judge-1"}],
        "samples": 5,
        "bootstrap": {"resamples": 1000, "seed": 7},
        "concurrency": 32,
    }
    data.update(extra)
    return AuditConfig.model_validate(data)


def test_audit_recovers_known_flip_rate_and_position_bias(
    tmp_path: Path, judge_server: tuple[TestServer, ScriptedJudge]
) -> None:
    srv, judge = judge_server
    b, e, k, n = 0.3, 0.15, 5, 80
    judge.first_bias, judge.noise, judge.seed = b, e, 11
    write_pairwise_items(tmp_path / "items.jsonl", n)
    result = asyncio.run(run_audit(_config(srv, tmp_path / "items.jsonl"), base_dir=tmp_path))
    entry = result.judges[0]
    assert judge.calls == n * k * 2  # every item, every sample, both orders; no cache

    # exact per-call probabilities of naming the first slot, by order
    p_a_when_good_first = b + (1 - b) * (1 - e)
    p_a_when_good_second = b + (1 - b) * e
    flip = (expected_flip(p_a_when_good_first, k) + expected_flip(p_a_when_good_second, k)) / 2
    consistency = (
        p_a_when_good_first * (1 - p_a_when_good_second)
        + (1 - p_a_when_good_first) * p_a_when_good_second
    )
    first_both = p_a_when_good_first * p_a_when_good_second
    first_rate = (p_a_when_good_first + p_a_when_good_second) / 2

    checks = {
        "mean flip rate": (entry.self_consistency.mean_flip_rate, flip),
        "position consistency": (entry.position.consistency, consistency),  # type: ignore[union-attr]
        "first wins both": (entry.position.first_both, first_both),  # type: ignore[union-attr]
        "first-position rate": (entry.position.first_position_rate, first_rate),  # type: ignore[union-attr]
    }
    for what, (est, truth) in checks.items():
        # the 95% bootstrap interval over 80 items must contain the exact value
        assert est.lo is not None, what
        assert est.hi is not None, what
        assert est.lo <= truth <= est.hi, f"{what}: {truth:.3f} not in [{est.lo:.3f}, {est.hi:.3f}]"
        assert est.seed == 7
        assert est.resamples == 1000
    # the bias is large enough that the audit cannot mistake it for none
    assert entry.position.first_position_rate.lo > 0.5  # type: ignore[union-attr]
    assert result.seed == 7


def test_always_first_judge_is_inconsistent_with_no_net_preference(
    tmp_path: Path, judge_server: tuple[TestServer, ScriptedJudge]
) -> None:
    srv, judge = judge_server
    judge.first_bias = 1.0
    write_pairwise_items(tmp_path / "items.jsonl", 30)
    cfg = _config(srv, tmp_path / "items.jsonl", samples=2)
    result = asyncio.run(run_audit(cfg, base_dir=tmp_path))
    pos = result.judges[0].position
    assert pos is not None
    assert pos.consistency.value == 0.0
    assert pos.first_both.value == 1.0
    assert pos.inconsistent_pairs == pos.pairs == 60
    assert pos.net_preference.value == 0.0
    assert pos.win_rate_adjusted.value == 0.5
    # a judge that never changes its answer is perfectly self-consistent, yet useless:
    assert result.judges[0].self_consistency.self_consistency.value == 1.0
    assert not result.trusted
    assert any("position_consistency" in r for r in result.untrusted_reasons)


def test_human_agreement_matches_sklearn_and_gates_trust(
    tmp_path: Path, judge_server: tuple[TestServer, ScriptedJudge]
) -> None:
    srv, judge = judge_server
    judge.noise, judge.seed = 0.1, 3
    write_pairwise_items(tmp_path / "items.jsonl", 60, human_noise=0.1, seed=5)
    cfg = _config(srv, tmp_path / "items.jsonl", samples=3)
    result = asyncio.run(run_audit(cfg, base_dir=tmp_path))
    entry = result.judges[0]
    assert entry.human is not None
    items = [json.loads(x) for x in (tmp_path / "items.jsonl").read_text().splitlines()]
    human = [i["human"] for i in items]
    # the judge's label per item is its first both-order pair, read back from what the
    # server actually replied; scikit-learn's kappa on those labels is the oracle
    labels = []
    for i in items:
        fwd = parse_verdict(judge.replies[f"audit-{i['id']}/scripted/fwd/0"]).verdict
        swp = parse_verdict(judge.replies[f"audit-{i['id']}/scripted/swp/0"]).verdict
        labels.append(combine(fwd, swp).vote)
    assert entry.human.items == 60
    assert entry.human.kappa.value == pytest.approx(cohen_kappa_score(labels, human), abs=1e-12)
    assert entry.human.raw_agreement.value == pytest.approx(
        sum(a == b for a, b in zip(labels, human, strict=True)) / 60
    )
    # raw agreement is reported next to the majority baseline
    assert entry.human.majority_baseline == pytest.approx(
        max(human.count(h) for h in set(human)) / 60
    )
    # the scripted judge is good (10% noise per call): kappa well above 0, trusted
    assert entry.human.kappa.value > 0.5
    assert result.trusted, result.untrusted_reasons


def test_rubric_audit_over_the_server(
    tmp_path: Path, judge_server: tuple[TestServer, ScriptedJudge]
) -> None:
    srv, judge = judge_server
    judge.noise, judge.seed = 0.2, 9  # a grade one too high, 20% of the time
    rng = np.random.default_rng(4)
    truth = rng.integers(1, 5, 50).tolist()  # 1..4, so +1 stays on the scale
    with (tmp_path / "items.jsonl").open("w") as f:
        for i, g in enumerate(truth):
            item = {"id": f"r{i}", "prompt": f"q{i}", "answer": f"text grade={g}", "human": g}
            f.write(json.dumps(item) + "\n")
    cfg = AuditConfig.model_validate(
        {
            "mode": "rubric",
            "items": "items.jsonl",
            "samples": 4,
            "judges": [{"name": "scripted", "base_url": srv.base_url, "model": "judge-1"}],
            "bootstrap": {"resamples": 500, "seed": 2},
        }
    )
    result = asyncio.run(run_audit(cfg, base_dir=tmp_path))
    entry = result.judges[0]
    assert entry.position is None  # no positions in pointwise grading
    # expected flip rate with 4 samples and p = 0.2: exact enumeration
    assert entry.self_consistency.mean_flip_rate.lo <= expected_flip(0.2, 4)  # type: ignore[operator]
    assert expected_flip(0.2, 4) <= entry.self_consistency.mean_flip_rate.hi  # type: ignore[operator]
    labels = [
        int(json.loads(judge.replies[f"audit-r{i}/scripted/grade/0"].split(". ", 1)[1])["score"])
        for i in range(50)
    ]
    h = entry.human
    assert h is not None
    assert h.gate_weights == "quadratic"
    ref = cohen_kappa_score(labels, truth, labels=[1, 2, 3, 4, 5], weights="quadratic")
    assert h.kappa_quadratic.value == pytest.approx(ref, abs=1e-12)  # type: ignore[union-attr]
    assert h.mcnemar is not None
    assert h.mcnemar.lean == "judge more positive"  # it only ever grades up
