"""Tool-call scoring: graded (``tool_calls``) and BFCL-strict (``bfcl``).

Importing :mod:`nullband.score.toolcalls.builtins` registers the scorers ``tool_calls``,
``bfcl``, ``extraction`` and ``trajectory`` in :mod:`nullband.score.registry`.
"""

from nullband.score.toolcalls.scorers import BfclScorer, CallsReport, ToolCallScorer

__all__ = ["BfclScorer", "CallsReport", "ToolCallScorer"]
