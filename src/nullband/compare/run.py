"""run_comparison: compare_rows with a gate's dimensions and weights, then evaluate_gate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nullband.compare.core import compare_rows
from nullband.compare.gate_config import GateConfig
from nullband.compare.gates import evaluate_gate
from nullband.compare.model import Comparison, ErrorPolicy, SourceInfo
from nullband.records import ResultRow
from nullband.stats.bootstrap import CIMethod


def run_comparison(
    baseline: Sequence[ResultRow],
    candidate: Sequence[ResultRow],
    *,
    gate: GateConfig | None = None,
    metric: str | None = None,
    by: Sequence[str] = (),
    confidence: float | None = None,
    resamples: int = 10_000,
    seed: int = 0,
    ci_method: CIMethod = "percentile",
    min_cases: int | None = None,
    errors: ErrorPolicy = "fail",
    judge_audit: Any = None,
    gate_path: str | None = None,
    baseline_source: SourceInfo | None = None,
    candidate_source: SourceInfo | None = None,
) -> Comparison:
    """Compare and (when a gate is given) decide, in one call.

    The gate's metric, confidence, min_cases, weights and segment dimensions are used
    unless the arguments override them (``metric``/``confidence``/``min_cases`` given).
    """
    g_metric = gate.metric if gate and gate.metric else None
    dims = list(dict.fromkeys([*by, *(gate.dimensions() if gate else [])]))
    cmp = compare_rows(
        baseline,
        candidate,
        metric=metric or g_metric or "pass",
        by=dims,
        confidence=confidence or (gate.confidence if gate and gate.confidence else 0.95),
        resamples=resamples,
        seed=seed,
        ci_method=ci_method,
        min_cases=min_cases or (gate.min_cases if gate else 20),
        weights=gate.weights if gate else None,
        errors=errors,
        baseline_source=baseline_source,
        candidate_source=candidate_source,
    )
    if gate is not None:
        cmp.gate = evaluate_gate(cmp, gate, judge_audit=judge_audit, config_path=gate_path)
    return cmp
