"""Registers the tool-use scorers as built-ins: ``tool_calls``, ``bfcl``, ``extraction``,
``trajectory`` and ``recovery_judge`` (the registry imports this module on first use of
one of those names)."""

from nullband.score.extraction import ExtractionScorer
from nullband.score.registry import register_builtin
from nullband.score.toolcalls.recovery_judge import RecoveryJudgeScorer
from nullband.score.toolcalls.scorers import BfclScorer, ToolCallScorer
from nullband.score.trajectory import TrajectoryScorer

NAMES = ("tool_calls", "bfcl", "extraction", "trajectory", "recovery_judge")

register_builtin("tool_calls", ToolCallScorer)
register_builtin("bfcl", BfclScorer)
register_builtin("extraction", ExtractionScorer)
register_builtin("trajectory", TrajectoryScorer)
register_builtin("recovery_judge", RecoveryJudgeScorer)
