"""Audit computations on fixed answers: flip rates, bootstrap intervals, rubric and ensemble
agreement against oracles, the trust gate and the gate hook."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from nullband.judges.audit import AuditSettings, JudgeAnswers, JudgeAudit, compute_audit
from nullband.judges.consistency import self_consistency
from nullband.judges.estimate import Boot, bootstrap_items
from nullband.judges.trust import TrustFloors, check_judges_for_gate


def test_flip_rates_by_hand() -> None:
    runs = [
        [["A", "A", "A", "A"]],  # 0
        [["A", "A", "B", "A"]],  # 1 - 3/4
        [["A", "B", "A", "B"]],  # 1 - 2/4
        [["A", None, None, None]],  # one readable answer: left out
    ]
    sc = self_consistency(["i0", "i1", "i2", "i3"], runs, threshold=0.3, boot=Boot(500, 1))
    assert sc.items == 3
    assert sc.mean_flip_rate.value == pytest.approx((0 + 0.25 + 0.5) / 3)
    assert sc.self_consistency.value == pytest.approx(1 - 0.25)
    assert sc.any_flip_share.value == pytest.approx(2 / 3)
    assert [f.item for f in sc.above_threshold] == ["i2"]
    assert sc.above_threshold[0].answers == {"A": 2, "B": 2}
    assert sc.histogram["0"] == 1
    assert sc.histogram["(0.2,0.3]"] == 1
    assert sc.histogram[">0.4"] == 1


def test_one_sample_is_not_enough_data_not_zero() -> None:
    sc = self_consistency(["a", "b"], [[["A"]], [["B"]]])
    assert sc.items == 0
    assert sc.self_consistency.value is None
    assert sc.self_consistency.status == "not_enough_data"
    assert "set samples >= 2" in (sc.self_consistency.reason or "")


def test_bootstrap_is_seeded_and_brackets_the_point() -> None:
    x = np.random.default_rng(0).random(50)
    e1 = bootstrap_items(lambda i: float(x[i].mean()), 50, Boot(800, 42))
    e2 = bootstrap_items(lambda i: float(x[i].mean()), 50, Boot(800, 42))
    assert e1 == e2
    assert e1.seed == 42
    assert e1.lo is not None
    assert e1.hi is not None
    assert e1.lo < e1.value < e1.hi  # type: ignore[operator]
    # the percentile interval of a mean is close to the normal one (0.03 slack for
    # bootstrap noise at 800 resamples)
    se = x.std(ddof=1) / np.sqrt(50)
    assert e1.hi - e1.lo == pytest.approx(2 * 1.96 * se, abs=0.03)
    small = bootstrap_items(lambda i: 1.0, 1, Boot())
    assert small.status == "not_enough_data"
    assert small.value is None


def _settings(mode: str, **kw: object) -> AuditSettings:
    base: dict[str, object] = {
        "mode": mode,
        "samples": 3,
        "temperature": 0.0,
        "floors": TrustFloors(),
        "resamples": 300,
        "seed": 5,
    }
    base.update(kw)
    return AuditSettings(**base)  # type: ignore[arg-type]


def test_rubric_audit_kappas_and_alpha_match_oracles() -> None:
    rng = np.random.default_rng(3)
    n = 70
    human = rng.integers(1, 6, n).astype(float)
    j1 = np.clip(human + rng.integers(-1, 2, n), 1, 5)
    j2 = np.clip(human + rng.integers(-2, 3, n), 1, 5)
    j3 = rng.integers(1, 6, n).astype(float)
    answers = [
        JudgeAnswers(f"j{i}", "m", grades=[[float(g), float(g), None] for g in col])
        for i, col in enumerate((j1, j2, j3), start=1)
    ]
    audit = compute_audit(
        _settings("rubric", kappa_weights="quadratic"),
        [f"i{k}" for k in range(n)],
        answers,
        list(human),
    )
    h = audit.judges[0].human
    assert h is not None
    assert h.kappa.value == pytest.approx(cohen_kappa_score(j1, human), abs=1e-12)
    assert h.kappa_linear.value == pytest.approx(  # type: ignore[union-attr]
        cohen_kappa_score(j1, human, labels=[1, 2, 3, 4, 5], weights="linear"), abs=1e-12
    )
    assert h.kappa_quadratic.value == pytest.approx(  # type: ignore[union-attr]
        cohen_kappa_score(j1, human, labels=[1, 2, 3, 4, 5], weights="quadratic"), abs=1e-12
    )
    assert h.gate_kappa() is h.kappa_quadratic
    # McNemar counts on "grade > 3"
    assert h.mcnemar is not None
    assert h.mcnemar.judge_only == int(((j1 > 3) & (human <= 3)).sum())
    assert h.mcnemar.human_only == int(((j1 <= 3) & (human > 3)).sum())
    ens = audit.ensemble
    assert ens is not None
    data = np.vstack([j1, j2, j3])
    for level in ("nominal", "ordinal", "interval"):
        ref = krippendorff.alpha(reliability_data=data, level_of_measurement=level)
        assert ens.alpha[level].value == pytest.approx(ref, abs=1e-9)
        assert ens.alpha[level].lo is not None
    dropped = np.mean(
        [len({a, b, c}) == 3 for a, b, c in zip(j1, j2, j3, strict=True)]
    )  # 2-of-3 fails only when all three differ
    assert ens.dropped_share.value == pytest.approx(dropped)
    assert ens.min_agree == 2


def test_raw_agreement_alone_does_not_earn_trust() -> None:
    """A judge that always says 'candidate' agrees 51% with humans at kappa 0."""
    n = 80
    human = ["candidate"] * 41 + ["reference"] * 25 + ["tie"] * 14
    always = JudgeAnswers("lazy", "m", forward=[["A"]] * n, swapped=[["B"]] * n)
    audit = compute_audit(
        _settings("pairwise", samples=1, floors=TrustFloors(min_self_consistency=None)),
        [f"i{k}" for k in range(n)],
        [always],
        human,
    )
    h = audit.judges[0].human
    assert h is not None
    assert h.raw_agreement.value == pytest.approx(0.5125)
    assert h.kappa.value == pytest.approx(0.0, abs=1e-12)
    assert not audit.trusted
    assert any("kappa" in r for r in audit.untrusted_reasons)


def test_no_human_labels_means_untrusted_unless_waived() -> None:
    ans = JudgeAnswers("j", "m", forward=[["A", "A"]] * 10, swapped=[["B", "B"]] * 10)
    ids = [f"i{k}" for k in range(10)]
    audit = compute_audit(_settings("pairwise", samples=2), ids, [ans], None)
    assert not audit.trusted
    assert any("kappa could not be checked" in r for r in audit.untrusted_reasons)
    waived = TrustFloors(require_human_labels=False)
    audit = compute_audit(_settings("pairwise", samples=2, floors=waived), ids, [ans], None)
    assert audit.trusted


def test_lower_bound_floors_are_stricter() -> None:
    rng = np.random.default_rng(1)
    n = 30
    human = ["candidate" if x else "reference" for x in rng.random(n) < 0.5]
    # the judge agrees on 80% of items
    fwd = [["A"] if (h == "candidate") == (rng.random() < 0.8) else ["B"] for h in human]
    swp = [["B"] if f == ["A"] else ["A"] for f in fwd]
    ans = JudgeAnswers("j", "m", forward=fwd, swapped=swp)
    ids = [f"i{k}" for k in range(n)]
    floors = {"min_kappa": 0.45, "min_self_consistency": None}
    point = compute_audit(
        _settings("pairwise", samples=1, floors=TrustFloors(**floors)), ids, [ans], human
    )
    lower = compute_audit(
        _settings("pairwise", samples=1, floors=TrustFloors(**floors, use="lower")),
        ids,
        [ans],
        human,
    )
    kappa = point.judges[0].human.kappa  # type: ignore[union-attr]
    assert kappa.value > 0.45  # type: ignore[operator]
    assert kappa.lo < 0.45  # type: ignore[operator]
    assert point.trusted
    assert not lower.trusted


def test_gate_hook_makes_untrusted_judges_invalid() -> None:
    ans = JudgeAnswers("j", "m", forward=[["A"]] * 10, swapped=[["A"]] * 10)
    audit = compute_audit(
        _settings("pairwise", samples=1), [f"i{k}" for k in range(10)], [ans], None
    )
    assert not audit.trusted
    check = check_judges_for_gate(audit, metric="judge_pairwise")
    assert check.decision == "invalid"
    assert any("INVALID" in r for r in check.reasons)
    allowed = check_judges_for_gate(audit, metric="judge_pairwise", allow_untrusted=True)
    assert allowed.decision == "allowed_untrusted"
    # the JSON form (what a gate reads from disk) works the same
    as_json = JudgeAudit.model_validate_json(audit.model_dump_json()).model_dump(mode="json")
    assert check_judges_for_gate(as_json, metric="m").decision == "invalid"
    assert check_judges_for_gate(None, metric="m").decision == "invalid"
    trusted = audit.model_copy(update={"trusted": True, "untrusted_reasons": []})
    assert check_judges_for_gate(trusted, metric="m", judges=["j"]).decision == "ok"
    uncovered = check_judges_for_gate(trusted, metric="m", judges=["j", "other"])
    assert uncovered.decision == "invalid"
    assert "other" in uncovered.reasons[0]
