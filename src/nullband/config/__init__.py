"""Configuration files: the eval config model and YAML loading with line-numbered errors."""

from nullband.config.models import (
    BudgetConfig,
    EvalConfig,
    RetryConfig,
    ScorerSpec,
    SuiteRef,
)
from nullband.config.yamlfile import load_yaml_model

__all__ = [
    "BudgetConfig",
    "EvalConfig",
    "RetryConfig",
    "ScorerSpec",
    "SuiteRef",
    "load_yaml_model",
]
