"""The shipped examples: configs validate, and the two scripted judges audit as described."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from nullband.compare.gate_config import load_gate
from nullband.config.models import EvalConfig
from nullband.config.yamlfile import load_yaml_model
from nullband.judges.audit_run import AuditConfig, run_audit
from nullband.judges.trust import check_judges_for_gate
from nullband.testserver import TestServer, load_script

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "judges"


def test_example_configs_validate() -> None:
    load_yaml_model(EXAMPLES / "audit.yaml", AuditConfig)
    load_yaml_model(EXAMPLES / "panel.yaml", AuditConfig)
    load_yaml_model(EXAMPLES / "eval-with-judge.yaml", EvalConfig)
    gate = load_gate(EXAMPLES / "gate-judge.yaml")
    assert gate.judge.metrics == ["judge_pairwise"]


@pytest.mark.parametrize(
    ("script", "trusted"), [("judge-fair.yaml", True), ("judge-first.yaml", False)]
)
def test_example_judges_audit_as_documented(script: str, trusted: bool) -> None:
    cfg = load_yaml_model(EXAMPLES / "audit.yaml", AuditConfig)
    with TestServer(load_script(EXAMPLES / script)) as srv:
        judge = cfg.judges[0].model_copy(update={"base_url": srv.base_url})
        cfg = cfg.model_copy(
            update={
                "judges": [judge],
                "samples": 2,
                "bootstrap": cfg.bootstrap.model_copy(update={"resamples": 300}),
            }
        )
        result = asyncio.run(run_audit(cfg, base_dir=EXAMPLES))
    assert result.trusted is trusted
    pos = result.judges[0].position
    assert pos is not None
    if trusted:
        assert pos.consistency.value == 1.0
        assert result.judges[0].human.kappa.value > 0.8  # type: ignore[union-attr,operator]
    else:
        assert pos.consistency.value == 0.0
        assert pos.net_preference.value == 0.0
        assert result.judges[0].human.kappa.value == 0.0  # type: ignore[union-attr]
    decision = check_judges_for_gate(result, metric="judge_pairwise", judges=["judge-a"]).decision
    assert decision == ("ok" if trusted else "invalid")


def test_example_panel_two_fair_judges_outvote_a_biased_one() -> None:
    cfg = load_yaml_model(EXAMPLES / "panel.yaml", AuditConfig)
    scripts = ["judge-fair.yaml", "judge-fair.yaml", "judge-first.yaml"]
    servers = [TestServer(load_script(EXAMPLES / s)).start_in_thread() for s in scripts]
    try:
        judges = [
            j.model_copy(update={"base_url": s.base_url})
            for j, s in zip(cfg.judges, servers, strict=True)
        ]
        cfg = cfg.model_copy(
            update={
                "judges": judges,
                "samples": 2,
                "bootstrap": cfg.bootstrap.model_copy(update={"resamples": 300}),
            }
        )
        result = asyncio.run(run_audit(cfg, base_dir=EXAMPLES))
    finally:
        for s in servers:
            s.stop()
    by_name = {e.judge: e for e in result.judges}
    assert by_name["j-fair-1"].trust.trusted
    assert not by_name["j-first"].trust.trusted
    ens = result.ensemble
    assert ens is not None
    assert ens.min_agree == 2
    # the two fair judges always agree, so no item is dropped and the panel is trusted
    assert ens.dropped_share.value == 0.0
    assert ens.human is not None
    assert ens.human.kappa.value > 0.8  # type: ignore[operator]
    assert result.trusted, result.untrusted_reasons
    # the biased judge (always "tie" after both orders) pulls alpha below 1
    assert ens.alpha["nominal"].value < 1.0  # type: ignore[operator]
