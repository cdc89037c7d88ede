"""compare_rows and gates on the held-out scenarios of issue #3."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nullband.compare import GateConfig, compare_rows, evaluate_gate, run_comparison
from nullband.errors import CompareError
from nullband.records import ResultRow
from nullband.stats import holm

Rows = tuple[list[ResultRow], list[ResultRow]]


def _gate(*rules: dict[str, Any], **kw: Any) -> GateConfig:
    return GateConfig.model_validate({"rules": list(rules), **kw})


def _no_nan(obj: object) -> None:
    if isinstance(obj, float):
        assert math.isfinite(obj)
    elif isinstance(obj, dict):
        for v in obj.values():
            _no_nan(v)
    elif isinstance(obj, list):
        for v in obj:
            _no_nan(v)


def test_field_notes_superiority_is_inconclusive(field_notes: Rows) -> None:
    base, cand = field_notes
    cmp = run_comparison(base, cand, gate=_gate({"kind": "superiority"}))
    o = cmp.overall
    assert o.n == 840
    assert round(o.baseline_mean or 0, 4) == 0.7131
    assert round(o.candidate_mean or 0, 4) == 0.7345
    assert o.discordant is not None
    assert (o.discordant.baseline_only, o.discordant.candidate_only) == (49, 67)
    assert o.delta_ci is not None
    # "about [-0.4, +4.6] points": the exact bootstrap gives [-0.36, +4.64]; 10,000
    # resamples may land one 1/840 lattice step (0.12 points) away.
    assert o.delta_ci[0] * 100 == pytest.approx(-300 / 840, abs=100 / 840 + 1e-9)
    assert o.delta_ci[1] * 100 == pytest.approx(3900 / 840, abs=100 / 840 + 1e-9)
    assert cmp.gate is not None
    assert cmp.gate.decision == "INCONCLUSIVE"
    assert cmp.gate.exit_code == 3
    reason = cmp.gate.reasons[0]
    assert "candidate is 2.1 points better" in reason
    assert "a regression is not ruled out" in reason
    assert "this suite detects 3.6 points at 80% power" in reason
    assert "about 2,700 cases would detect 2 points" in reason
    _no_nan(cmp.model_dump(mode="json"))


def test_json_shape_matches_the_issue(field_notes: Rows) -> None:
    base, cand = field_notes
    cmp = run_comparison(base, cand, by=["customer"], gate=_gate({"kind": "superiority"}))
    data = cmp.model_dump(mode="json")
    for key in (
        "schema_version",
        "metric",
        "confidence",
        "seed",
        "resamples",
        "overall",
        "segments",
        "gate",
    ):
        assert key in data
    for key in (
        "n",
        "baseline_mean",
        "candidate_mean",
        "baseline_ci",
        "candidate_ci",
        "delta",
        "delta_ci",
        "ci_method",
        "discordant",
        "p_value",
        "test",
        "p_mid",
        "mde",
    ):
        assert key in data["overall"]
        assert key in data["segments"][0]
    for key in ("dimension", "segment", "p_adjusted", "adjustment", "low_confidence"):
        assert key in data["segments"][0]
    assert data["overall"]["test"] == "mcnemar-exact"
    assert round(data["overall"]["p_value"], 3) == 0.114
    assert round(data["overall"]["p_mid"], 4) == 0.0957
    assert round(data["overall"]["mde"], 4) == 0.0359
    assert set(data["gate"]) >= {"decision", "exit_code", "reasons"}


def test_forty_segments_mean_passes_worst_fails_on_one_segment(forty_segments: Rows) -> None:
    base, cand = forty_segments
    mean_gate = _gate({"kind": "non_inferiority", "margin": 0.02})
    cmp = run_comparison(base, cand, gate=mean_gate)
    assert cmp.gate is not None
    assert cmp.gate.decision == "PASS", cmp.gate.reasons
    worst = _gate({"kind": "worst_segment", "by": "customer"})
    cmp = run_comparison(base, cand, gate=worst)
    assert cmp.gate is not None
    assert cmp.gate.decision == "FAIL"
    rule = cmp.gate.rules[0]
    failed = [c.segment for c in rule.segments if c.decision == "FAIL"]
    assert failed == ["c07"]
    gated = {c.segment for c in rule.segments}
    assert not gated & {"c37", "c38", "c39"}  # low-n: flagged, not gated
    segs = {s.segment: s for s in cmp.segments}
    assert all(segs[k].low_confidence for k in ("c37", "c38", "c39"))
    assert segs["c37"].p_adjusted is None
    assert "p_adjusted" in segs["c37"].unavailable
    # the gate's Holm matches an independent Holm over the same one-sided p-values
    ps = [c.p_value for c in rule.segments]
    for c, expected in zip(rule.segments, holm(ps), strict=True):
        assert c.p_adjusted == pytest.approx(expected, abs=1e-9)


def test_segment_table_holm_matches_statsmodels(forty_segments: Rows) -> None:
    from statsmodels.stats.multitest import multipletests

    base, cand = forty_segments
    cmp = compare_rows(base, cand, by=["customer"], resamples=1000)
    gated = [s for s in cmp.segments if not s.low_confidence]
    ref = multipletests([s.p_value for s in gated], method="holm")[1]
    ref_bh = multipletests([s.p_value for s in gated], method="fdr_bh")[1]
    for s, r, rb in zip(gated, ref, ref_bh, strict=True):
        assert s.p_adjusted == pytest.approx(r, abs=1e-9)  # issue tolerance
        assert s.p_bh == pytest.approx(rb, abs=1e-9)


def test_epoch_spread_makes_comparison_invalid(make_row: Callable[..., ResultRow]) -> None:
    rng = np.random.default_rng(3)
    base: list[ResultRow] = []
    cand: list[ResultRow] = []
    truth = rng.random(300) < 0.7
    flips = set(range(6))  # 6 of 300 cases pass in epoch 0 only: 2 points of spread
    for e in range(3):
        for i in range(300):
            a = int(truth[i])
            b = int(truth[i]) if i not in flips else int(e == 0)
            base.append(make_row(f"e{i:03d}", a, model="m/a", epoch=e))
            cand.append(make_row(f"e{i:03d}", b, model="m/b", epoch=e))
    cmp = run_comparison(base, cand, gate=_gate({"kind": "superiority"}))
    assert cmp.gate is not None
    assert cmp.gate.decision == "INVALID"
    assert cmp.gate.exit_code == 4
    cand_ep = next(e for e in cmp.epochs if e.side == "candidate")
    assert cand_ep.spread == pytest.approx(0.02)
    assert cand_ep.flipping == [f"e{i:03d}" for i in sorted(flips)]
    base_ep = next(e for e in cmp.epochs if e.side == "baseline")
    assert base_ep.flipping == []
    text = cmp.gate.reasons[0]
    assert "nondeterministic" in text
    for cid in cand_ep.flipping:
        assert cid in text
    assert cmp.overall.n == 300  # per-case means, not 900 rows


def test_provenance_mismatch_is_invalid(
    field_notes: Rows, make_row: Callable[..., ResultRow]
) -> None:
    base, cand = field_notes
    drifted = [
        r.model_copy(update={"model": r.model.model_copy(update={"served": "ft-7b-2026-07-09"})})
        if i % 10 == 0
        else r
        for i, r in enumerate(cand)
    ]
    cmp = run_comparison(base, drifted, gate=_gate({"kind": "superiority"}))
    assert cmp.gate is not None
    assert cmp.gate.decision == "INVALID"
    assert "provenance" in cmp.gate.reasons[0]
    relaxed = _gate(
        {"kind": "superiority"}, provenance={"require_pinned": False, "one_model_per_side": False}
    )
    cmp = run_comparison(base, drifted, gate=relaxed)
    assert cmp.gate is not None
    assert cmp.gate.decision == "INCONCLUSIVE"


def test_untrusted_judge_makes_gate_invalid(field_notes: Rows) -> None:
    base, cand = field_notes
    gate = _gate({"kind": "superiority"}, judge={"metrics": ["pass"]})
    audit = {
        "trusted": False,
        "untrusted_reasons": ["kappa 0.21 is below the floor 0.4"],
        "judge_names": ["j1"],
    }
    cmp = run_comparison(base, cand, gate=gate, judge_audit=audit)
    assert cmp.gate is not None
    assert cmp.gate.decision == "INVALID"
    assert any("kappa 0.21" in r for r in cmp.gate.reasons)
    cmp = run_comparison(base, cand, gate=gate, judge_audit=None)
    assert cmp.gate is not None
    assert cmp.gate.decision == "INVALID"  # no audit at all
    allowed = _gate(
        {"kind": "superiority"}, judge={"metrics": ["pass"], "allow_untrusted_judge": True}
    )
    cmp = run_comparison(base, cand, gate=allowed, judge_audit=audit)
    assert cmp.gate is not None
    assert cmp.gate.decision == "INCONCLUSIVE"


def test_pairing_rules(make_row: Callable[..., ResultRow]) -> None:
    base = [make_row(f"c{i}", 1, model="m/a", case_hash=f"h{i}") for i in range(30)]
    cand = [make_row(f"c{i}", 1, model="m/b", case_hash=f"h{i}") for i in range(2, 32)]
    cand[5] = make_row("c7", 0, model="m/b", case_hash="changed")
    cmp = compare_rows(base, cand)
    assert cmp.pairing.only_baseline == ["c0", "c1"]
    assert cmp.pairing.only_candidate == ["c30", "c31"]
    assert cmp.pairing.hash_mismatches == ["c7"]
    assert cmp.overall.n == 27
    assert any("only in the baseline" in w for w in cmp.warnings)
    gate = _gate({"kind": "non_inferiority", "margin": 0.05})
    assert evaluate_gate(cmp, gate).decision == "INVALID"
    with pytest.raises(CompareError, match="twice"):
        compare_rows([*base, base[0]], cand)
    with pytest.raises(CompareError, match="metric 'f1'"):
        compare_rows(base, cand, metric="f1")


def test_error_rows_fail_by_default_or_are_excluded(make_row: Callable[..., ResultRow]) -> None:
    base = [make_row(f"c{i}", 1, model="m/a") for i in range(40)]
    cand = [make_row(f"c{i}", 1, model="m/b") for i in range(40)]
    for i in range(5):
        cand[i] = make_row(f"c{i}", 1, model="m/b", error="HTTP 500 after 3 attempts")
    failed = compare_rows(base, cand)
    assert failed.overall.candidate_mean == pytest.approx(35 / 40)
    assert failed.pairing.errors_candidate == [f"c{i}" for i in range(5)]
    excl = compare_rows(base, cand, errors="exclude")
    assert excl.overall.n == 35
    assert excl.pairing.excluded_for_errors == [f"c{i}" for i in range(5)]


def test_continuous_metric(make_row: Callable[..., ResultRow]) -> None:
    rng = np.random.default_rng(8)
    x = rng.beta(3, 2, 400)
    base = [
        make_row(f"c{i}", float(x[i]), model="m/a", metric="arg_f1", segments={"tool": f"t{i % 5}"})
        for i in range(400)
    ]
    cand = [
        make_row(
            f"c{i}",
            float(min(1, x[i] + rng.normal(0.03, 0.05))),
            model="m/b",
            metric="arg_f1",
            segments={"tool": f"t{i % 5}"},
        )
        for i in range(400)
    ]
    cmp = compare_rows(base, cand, metric="arg_f1", by=["tool"])
    assert cmp.overall.kind == "continuous"
    assert cmp.overall.discordant is None
    assert cmp.overall.test == "paired-t"
    assert cmp.overall.p_value is not None
    assert len(cmp.segments) == 5
    assert all(s.kind == "continuous" for s in cmp.segments)


def test_all_equal_and_no_discordant(make_row: Callable[..., ResultRow]) -> None:
    base = [make_row(f"c{i}", i % 2, model="m/a") for i in range(12)]
    cand = [make_row(f"c{i}", i % 2, model="m/b") for i in range(12)]
    cmp = run_comparison(base, cand, gate=_gate({"kind": "superiority"}))
    assert cmp.overall.p_value == 1.0
    assert cmp.overall.mde is None
    assert "mde" in cmp.overall.unavailable
    assert cmp.gate is not None
    assert cmp.gate.decision == "INCONCLUSIVE"
    _no_nan(cmp.model_dump(mode="json"))


def test_clustered_prompts_with_five_epochs(make_row: Callable[..., ResultRow]) -> None:
    rng = np.random.default_rng(12)
    base: list[ResultRow] = []
    cand: list[ResultRow] = []
    for c in range(50):
        lift = rng.normal(0.02, 0.15)
        for j in range(4):
            p = rng.uniform(0.3, 0.9)
            for e in range(5):
                cid = f"k{c:02d}-{j}"
                base.append(
                    make_row(cid, int(rng.random() < p), model="m/a", epoch=e, cluster=f"conv{c}")
                )
                cand.append(
                    make_row(
                        cid,
                        int(rng.random() < min(1, p + lift)),
                        model="m/b",
                        epoch=e,
                        cluster=f"conv{c}",
                    )
                )
    cmp = run_comparison(base, cand, gate=_gate({"kind": "superiority"}, max_epoch_spread=None))
    o = cmp.overall
    assert o.n == 200  # 200 prompts, each averaged over 5 epochs
    assert o.n_clusters == 50
    assert o.test == "cluster-robust-t"
    assert o.ci_method.startswith("cluster-bootstrap")
    assert len(cmp.epochs) == 2
    assert all(len(e.rates) == 5 for e in cmp.epochs)


def test_weighted_slices(field_notes: Rows) -> None:
    base, cand = field_notes
    adv = {r.case_id for r in base[:100]}
    base = [r.model_copy(update={"adversarial": r.case_id in adv}) for r in base]
    cand = [r.model_copy(update={"adversarial": r.case_id in adv}) for r in cand]
    gate = _gate(
        {"kind": "non_inferiority", "margin": 0.01, "scope": "weighted"},
        weights={"adversarial": 3.0},
    )
    cmp = run_comparison(base, cand, gate=gate)
    assert cmp.weighted is not None
    a = np.array([r.scores["pass"] for r in sorted(base, key=lambda r: r.case_id)])
    b = np.array([r.scores["pass"] for r in sorted(cand, key=lambda r: r.case_id)])
    w = np.array([3.0 if r.adversarial else 1.0 for r in sorted(base, key=lambda r: r.case_id)])
    assert cmp.weighted.delta == pytest.approx(float(np.sum(w * (b - a)) / w.sum()), abs=1e-12)
    assert cmp.gate is not None
    assert cmp.gate.rules[0].name == "non_inferiority:weighted"


def test_lora_parity_on_200_identical_cases_is_inconclusive() -> None:
    from nullband.compare import load_gate
    from nullband.records import ModelInfo

    rng = np.random.default_rng(1)
    base, cand = [], []
    for ad in range(5):
        for j in range(200):
            v = float(rng.random() < 0.9)
            m = f"customer_{ad}_v3"
            for side in (base, cand):
                side.append(
                    ResultRow(
                        case_id=f"a{ad}-{j}",
                        scores={"pass": v},
                        segments={"adapter": f"ad{ad}"},
                        model=ModelInfo(requested=m, served=m),
                    )
                )
    gate = load_gate(Path(__file__).resolve().parents[2] / "examples/gates/lora-parity.yaml")
    cmp = run_comparison(base, cand, gate=gate)
    assert cmp.gate is not None
    # 200 identical outputs cannot show a 0.5-point parity (Newcombe: about +-1.8 points).
    assert cmp.gate.decision == "INCONCLUSIVE"
    text = " ".join(cmp.gate.reasons)
    assert "cases would detect 0.5 points" in text
    assert cmp.provenance.cross_mismatched_cases == []
