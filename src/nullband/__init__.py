"""nullband: honest LLM eval comparisons.

Public API: import from here; everything else is an implementation detail.
"""

from nullband.config import EvalConfig, load_yaml_model
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
from nullband.records import Attempt, ModelInfo, Provenance, Record, ResultRow, ToolCall, Usage
from nullband.score.base import ScoreResult
from nullband.suite import Case, iter_cases, load_cases
from nullband.targets.config import Prices, TargetConfig

__version__ = "0.1.0"

__all__ = [
    "Attempt",
    "Case",
    "CompareError",
    "ConfigError",
    "EvalConfig",
    "InputError",
    "ModelInfo",
    "NullbandError",
    "Prices",
    "Provenance",
    "Record",
    "ResultRow",
    "ScoreResult",
    "ScorerError",
    "StatsError",
    "StoreError",
    "SuiteError",
    "TargetConfig",
    "TargetError",
    "ToolCall",
    "Usage",
    "UsageError",
    "iter_cases",
    "load_cases",
    "load_yaml_model",
]
