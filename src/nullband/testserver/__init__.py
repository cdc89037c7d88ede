"""A scriptable OpenAI-compatible server for tests and for users' own pipelines.

Serves chat completions (JSON and SSE streaming, tool calls), models, embeddings,
vLLM-style ``/tokenize`` and ``/metrics``, with scripted replies, exact latency, seeded
fault injection, a served-model switch and gateway-style provenance headers. It counts
requests and successes per ``X-Nullband-Case`` key (``srv.stats``, ``GET /_nullband/stats``).

Example:
    >>> from nullband.testserver import TestServer
    >>> with TestServer({"faults": {"rate_429": 0.05, "seed": 1}}) as srv:  # doctest: +SKIP
    ...     print(srv.base_url)
"""

from nullband.testserver.config import (
    DelayDistribution,
    FaultConfig,
    GatewayConfig,
    LatencyConfig,
    ModelSwitch,
    Rule,
    ServerConfig,
    ToolCallSpec,
    load_script,
)
from nullband.testserver.reply import CASE_HEADER, Reply, Responder, ServerRequest
from nullband.testserver.server import TestServer
from nullband.testserver.stats import CaseStats
from nullband.testserver.subprocess import SubprocessServer

__all__ = [
    "CASE_HEADER",
    "CaseStats",
    "DelayDistribution",
    "FaultConfig",
    "GatewayConfig",
    "LatencyConfig",
    "ModelSwitch",
    "Reply",
    "Responder",
    "Rule",
    "ServerConfig",
    "ServerRequest",
    "SubprocessServer",
    "TestServer",
    "ToolCallSpec",
    "load_script",
]
