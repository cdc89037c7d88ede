"""Comparisons and gates: pair two result sets, compare them per segment, decide.

Example:
    >>> from nullband.compare import load_results, run_comparison, load_gate
    >>> cmp = run_comparison(load_results("base.jsonl"), load_results("cand.jsonl"),
    ...                      gate=load_gate("examples/gates/promotion.yaml"))  # doctest: +SKIP
    >>> cmp.gate.decision  # doctest: +SKIP
    'INCONCLUSIVE'
"""

from nullband.compare.core import compare_rows
from nullband.compare.gate_config import (
    FloorRule,
    GateConfig,
    JudgePolicy,
    NonInferiorityRule,
    ProvenancePolicy,
    SuperiorityRule,
    WorstSegmentRule,
    load_gate,
)
from nullband.compare.gates import evaluate_gate
from nullband.compare.load import load_results, read_results_file
from nullband.compare.model import (
    COMPARISON_SCHEMA_VERSION,
    EXIT_CODES,
    Comparison,
    Decision,
    EpochReport,
    GateResult,
    PairingReport,
    ProvenanceReport,
    RuleResult,
    SegmentCheck,
    SegmentSummary,
    SourceInfo,
)
from nullband.compare.run import run_comparison

__all__ = [
    "COMPARISON_SCHEMA_VERSION",
    "EXIT_CODES",
    "Comparison",
    "Decision",
    "EpochReport",
    "FloorRule",
    "GateConfig",
    "GateResult",
    "JudgePolicy",
    "NonInferiorityRule",
    "PairingReport",
    "ProvenancePolicy",
    "ProvenanceReport",
    "RuleResult",
    "SegmentCheck",
    "SegmentSummary",
    "SourceInfo",
    "SuperiorityRule",
    "WorstSegmentRule",
    "compare_rows",
    "evaluate_gate",
    "load_gate",
    "load_results",
    "read_results_file",
    "run_comparison",
]
