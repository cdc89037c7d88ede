"""Record and run factories for the store tests (imported by name: unique module)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from nullband._ids import new_run_id
from nullband.records import Attempt, Provenance, Record, ToolCall, Usage
from nullband.store import RunInfo

T0 = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)


def make_run(run_id: str | None = None, **kw: Any) -> RunInfo:
    """A RunInfo with two targets and three cases of metadata."""
    now = kw.pop("created_at", datetime.now(UTC))
    base: dict[str, Any] = {
        "run_id": run_id or new_run_id(),
        "created_at": now,
        "updated_at": now,
        "status": "running",
        "config_path": "eval.yaml",
        "config_hash": "cfg0",
        "config": {"suite": "suite.jsonl", "epochs": 1},
        "targets": {"cand": "acme-2026-05-01", "base": "acme-2026-01-01"},
        "n_cases": 3,
        "cases": {
            "c1": {"hash": "h1", "segments": {"flow": "refund"}, "weight": 1.0},
            "c2": {
                "hash": "h2",
                "segments": {"flow": "billing"},
                "weight": 3.0,
                "adversarial": True,
            },
            "c3": {"hash": "h3", "segments": {}, "weight": 1.0, "cluster": "conv-1"},
        },
    }
    base.update(kw)
    return RunInfo(**base)


def make_record(
    run_id: str,
    case_id: str,
    target: str = "cand",
    epoch: int = 0,
    *,
    status: str = "ok",
    served: str | None = "acme-2026-05-01",
    fingerprint: str | None = "fp_1",
    at: datetime | None = None,
    cost: float = 0.002,
    **kw: Any,
) -> Record:
    """A fully populated record (attempts, tool calls, usage) for round-trip checks."""
    fields: dict[str, Any] = {
        "run_id": run_id,
        "case_id": case_id,
        "case_hash": "h" + case_id[1:],
        "epoch": epoch,
        "target": target,
        "request_hash": "req-" + case_id,
        "status": status,
        "output_text": None if status == "error" else f"answer to {case_id} ✓",
        "tool_calls": [ToolCall(id="t1", name="lookup", arguments='{"q": 1}')],
        "finish_reason": "stop",
        "usage": Usage(input_tokens=100, output_tokens=20, cached_tokens=5),
        "latency_s": 0.25,
        "attempts": [
            Attempt(n=1, started_at=T0, latency_s=0.1, status=429, error_class="rate_limit"),
            Attempt(n=2, started_at=T0 + timedelta(seconds=1), latency_s=0.25, status=200),
        ],
        "cost_usd": cost,
        "provenance": Provenance(
            requested="acme-2026-05-01", served=served, fingerprint=fingerprint, routed="r/x"
        ),
        "error": "HTTP 500 after 6 attempts" if status == "error" else None,
        "error_class": "server" if status == "error" else None,
        "scores": {"pass": 1.0} if status == "ok" else {},
        "created_at": at or datetime.now(UTC),
    }
    fields.update(kw)
    return Record(**fields)
