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
