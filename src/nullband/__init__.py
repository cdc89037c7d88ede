"""nullband: honest LLM eval comparisons.

Public API: import from here; everything else is an implementation detail. Only the
errors are imported eagerly; every other name (records, configs, statistics, stores,
servers) is loaded on first use, so that ``import nullband`` (and so every command and
worker process) starts fast.

Example:
    >>> import nullband
    >>> rows = nullband.load_results("candidate.jsonl")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nullband import _lazy
from nullband.errors import (
    CompareError,
    ConfigError,
    InputError,
    NullbandError,
    ScorerError,
    StatsError,
    StoreError,
    SuiteError,
    TargetError,
    UsageError,
)

if TYPE_CHECKING:
    from nullband.compare import (
        Comparison,
        GateConfig,
        compare_rows,
        evaluate_gate,
        load_gate,
        load_results,
        run_comparison,
    )
    from nullband.config import EvalConfig, load_yaml_model
    from nullband.judges import (
        AuditConfig,
        JudgeAudit,
        PanelConfig,
        TrustFloors,
        check_judges_for_gate,
        run_audit,
    )
    from nullband.load import LoadConfig, analyze_prompts, compare_arms, run_load
    from nullband.records import Attempt, ModelInfo, Provenance, Record, ResultRow, ToolCall, Usage
    from nullband.run.runner import run_eval
    from nullband.run.summary import RunSummary
    from nullband.run.trajectory import TrajectoryResult, play
    from nullband.score.base import ScoreResult
    from nullband.score.extraction import ExtractionScorer
    from nullband.score.registry import load_scorers, score_record
    from nullband.score.toolcalls import BfclScorer, ToolCallScorer
    from nullband.score.trajectory import TrajectoryScorer, pass_hat_k
    from nullband.stats import Interval, PairedSummary, bootstrap_ci, paired_summary
    from nullband.store import RunInfo, open_store
    from nullband.store.drift import drift_report
    from nullband.store.export import export_results, iter_result_rows
    from nullband.suite import Case, iter_cases, load_cases
    from nullband.suite.importers import import_bfcl_dir, import_taubench
    from nullband.targets.budget import Budget, BudgetExceeded
    from nullband.targets.client import CallOutcome, TargetClient
    from nullband.targets.config import Prices, TargetConfig
    from nullband.testserver import Reply, ServerConfig, ServerRequest, TestServer
    from nullband.traces import AuditConfig as TraceAuditConfig
    from nullband.traces import (
        ScrubSession,
        Step,
        audit_file,
        shadow_files,
        stratified_sample,
        traces_to_cases,
    )

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "Attempt": "nullband.records",
    "AuditConfig": "nullband.judges",
    "BfclScorer": "nullband.score.toolcalls",
    "Budget": "nullband.targets.budget",
    "BudgetExceeded": "nullband.targets.budget",
    "CallOutcome": "nullband.targets.client",
    "Case": "nullband.suite",
    "Comparison": "nullband.compare",
    "EvalConfig": "nullband.config",
    "ExtractionScorer": "nullband.score.extraction",
    "GateConfig": "nullband.compare",
    "Interval": "nullband.stats",
    "JudgeAudit": "nullband.judges",
    "LoadConfig": "nullband.load",
    "ModelInfo": "nullband.records",
    "PairedSummary": "nullband.stats",
    "PanelConfig": "nullband.judges",
    "Prices": "nullband.targets.config",
    "Provenance": "nullband.records",
    "Record": "nullband.records",
    "Reply": "nullband.testserver",
    "ResultRow": "nullband.records",
    "RunInfo": "nullband.store",
    "RunSummary": "nullband.run.summary",
    "ScoreResult": "nullband.score.base",
    "ScrubSession": "nullband.traces",
    "ServerConfig": "nullband.testserver",
    "ServerRequest": "nullband.testserver",
    "Step": "nullband.traces",
    "TargetClient": "nullband.targets.client",
    "TargetConfig": "nullband.targets.config",
    "TestServer": "nullband.testserver",
    "ToolCall": "nullband.records",
    "ToolCallScorer": "nullband.score.toolcalls",
    "TraceAuditConfig": "nullband.traces:AuditConfig",
    "TrajectoryResult": "nullband.run.trajectory",
    "TrajectoryScorer": "nullband.score.trajectory",
    "TrustFloors": "nullband.judges",
    "Usage": "nullband.records",
    "analyze_prompts": "nullband.load",
    "audit_file": "nullband.traces",
    "bootstrap_ci": "nullband.stats",
    "check_judges_for_gate": "nullband.judges",
    "compare_arms": "nullband.load",
    "compare_rows": "nullband.compare",
    "drift_report": "nullband.store.drift",
    "evaluate_gate": "nullband.compare",
    "export_results": "nullband.store.export",
    "import_bfcl_dir": "nullband.suite.importers",
    "import_taubench": "nullband.suite.importers",
    "iter_cases": "nullband.suite",
    "iter_result_rows": "nullband.store.export",
    "load_cases": "nullband.suite",
    "load_gate": "nullband.compare",
    "load_results": "nullband.compare",
    "load_scorers": "nullband.score.registry",
    "load_yaml_model": "nullband.config",
    "open_store": "nullband.store",
    "paired_summary": "nullband.stats",
    "pass_hat_k": "nullband.score.trajectory",
    "play": "nullband.run.trajectory",
    "run_audit": "nullband.judges",
    "run_comparison": "nullband.compare",
    "run_eval": "nullband.run.runner",
    "run_load": "nullband.load",
    "score_record": "nullband.score.registry",
    "shadow_files": "nullband.traces",
    "stratified_sample": "nullband.traces",
    "traces_to_cases": "nullband.traces",
}


def __getattr__(name: str) -> Any:
    return _lazy.load(globals(), _LAZY, name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "Attempt",
    "AuditConfig",
    "BfclScorer",
    "Budget",
    "BudgetExceeded",
    "CallOutcome",
    "Case",
    "CompareError",
    "Comparison",
    "ConfigError",
    "EvalConfig",
    "ExtractionScorer",
    "GateConfig",
    "InputError",
    "Interval",
    "JudgeAudit",
    "LoadConfig",
    "ModelInfo",
    "NullbandError",
    "PairedSummary",
    "PanelConfig",
    "Prices",
    "Provenance",
    "Record",
    "Reply",
    "ResultRow",
    "RunInfo",
    "RunSummary",
    "ScoreResult",
    "ScorerError",
    "ScrubSession",
    "ServerConfig",
    "ServerRequest",
    "StatsError",
    "Step",
    "StoreError",
    "SuiteError",
    "TargetClient",
    "TargetConfig",
    "TargetError",
    "TestServer",
    "ToolCall",
    "ToolCallScorer",
    "TraceAuditConfig",
    "TrajectoryResult",
    "TrajectoryScorer",
    "TrustFloors",
    "Usage",
    "UsageError",
    "analyze_prompts",
    "audit_file",
    "bootstrap_ci",
    "check_judges_for_gate",
    "compare_arms",
    "compare_rows",
    "drift_report",
    "evaluate_gate",
    "export_results",
    "import_bfcl_dir",
    "import_taubench",
    "iter_cases",
    "iter_result_rows",
    "load_cases",
    "load_gate",
    "load_results",
    "load_scorers",
    "load_yaml_model",
    "open_store",
    "paired_summary",
    "pass_hat_k",
    "play",
    "run_audit",
    "run_comparison",
    "run_eval",
    "run_load",
    "score_record",
    "shadow_files",
    "stratified_sample",
    "traces_to_cases",
]
