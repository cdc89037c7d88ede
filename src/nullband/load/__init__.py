"""nullband.load: load-shape replay, latency statistics, A/B gate, prefix-cache analysis.

Example:
    >>> from nullband.load import LoadConfig, SyntheticTraffic, run_load, synthetic_schedule
    >>> # cfg = LoadConfig(target=..., synthetic=SyntheticTraffic(rate=20, duration_s=60))
    >>> # result = run_load(cfg, synthetic_schedule(cfg.synthetic, seed=cfg.seed))
"""

from nullband.load.ab import build_schedule, run_ab
from nullband.load.compare import (
    GateRule,
    LoadComparison,
    compare_arms,
    parse_rule,
)
from nullband.load.config import (
    SLO,
    LoadConfig,
    SyntheticTraffic,
    TenantSpec,
    ValidityThresholds,
    read_load_config,
)
from nullband.load.files import read_records, read_summary, write_run
from nullband.load.metrics import request_metrics
from nullband.load.prefix import PrefixReport, PromptItem, analyze_prompts, read_prompts
from nullband.load.quantiles import QuantileEstimate, describe, quantile_ci
from nullband.load.records import RequestRecord
from nullband.load.runner import LoadResult, run_load
from nullband.load.summary import LoadSummary
from nullband.load.tokenizers import ByteTokenizer, ServerTokenizer, choose_tokenizer
from nullband.load.trace import (
    Schedule,
    TraceRow,
    read_trace,
    schedule_from_trace,
    synthetic_schedule,
    write_trace,
)
from nullband.load.validity import ValidityReport

__all__ = [
    "SLO",
    "ByteTokenizer",
    "GateRule",
    "LoadComparison",
    "LoadConfig",
    "LoadResult",
    "LoadSummary",
    "PrefixReport",
    "PromptItem",
    "QuantileEstimate",
    "RequestRecord",
    "Schedule",
    "ServerTokenizer",
    "SyntheticTraffic",
    "TenantSpec",
    "TraceRow",
    "ValidityReport",
    "ValidityThresholds",
    "analyze_prompts",
    "build_schedule",
    "choose_tokenizer",
    "compare_arms",
    "describe",
    "parse_rule",
    "quantile_ci",
    "read_load_config",
    "read_prompts",
    "read_records",
    "read_summary",
    "read_trace",
    "request_metrics",
    "run_ab",
    "run_load",
    "schedule_from_trace",
    "synthetic_schedule",
    "write_run",
    "write_trace",
]
