"""A synthetic agent-trace corpus with planted problems, for tests, the benchmark and demos.

Every trace is an agent task: a planner model call that emits a tool call, the tool's
execution, and a final model call. A seeded share of traces gets exactly one planted
problem; :class:`SynthCorpus` records which flags the audit must raise for each trace.
Clean spans stay within +-20% of their class's base latency, so the default 1.5x timing
rule can never fire on them; slow spans are 2.5-4x.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

PROBLEMS = (
    "fallback",
    "retry",
    "model_swap",
    "cache_hit",
    "tool_args_invalid",
    "tool_result_invalid",
    "tool_result_mismatch",
    "slow_span",
    "step_error",
)
"""Problems the generator can plant (one per problem trace)."""

EXPECTED_FLAGS: dict[str, frozenset[str]] = {
    "fallback": frozenset({"fallback", "model_mismatch"}),
    "retry": frozenset({"retry"}),
    "model_swap": frozenset({"model_mismatch"}),
    "cache_hit": frozenset({"cache_hit"}),
    "tool_args_invalid": frozenset({"tool_args_invalid"}),
    "tool_result_invalid": frozenset({"tool_result_invalid", "tool_result_mismatch"}),
    "tool_result_mismatch": frozenset({"tool_result_mismatch"}),
    "slow_span": frozenset({"slow_span"}),
    "step_error": frozenset({"step_error"}),
}
"""The audit flags each planted problem must produce, given the result schemas and the
ground truth (a fallback also changes the model; an invalid result also differs from the
recorded truth)."""

TOOLS: dict[str, dict[str, Any]] = {
    "crm_lookup": {
        "type": "object",
        "properties": {
            "customer_id": {"type": "string", "pattern": "^C[0-9]{6}$"},
            "fields": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["customer_id"],
        "additionalProperties": False,
    },
    "create_refund": {
        "type": "object",
        "properties": {
            "order_id": {"type": "string"},
            "amount": {"type": "number", "minimum": 0},
            "currency": {"enum": ["USD", "EUR", "GBP"]},
        },
        "required": ["order_id", "amount", "currency"],
        "additionalProperties": False,
    },
    "search_kb": {
        "type": "object",
        "properties": {
            "query": {"type": "string", "minLength": 1},
            "top_k": {"type": "integer", "minimum": 1, "maximum": 10},
        },
        "required": ["query"],
        "additionalProperties": False,
    },
}
"""JSON Schemas of the tools' parameters."""

RESULT_SCHEMAS: dict[str, dict[str, Any]] = {
    "crm_lookup": {
        "type": "object",
        "properties": {"customer_id": {"type": "string"}, "tier": {"type": "string"}},
        "required": ["customer_id", "tier"],
    },
    "create_refund": {
        "type": "object",
        "properties": {"refund_id": {"type": "string"}, "status": {"enum": ["ok", "pending"]}},
        "required": ["refund_id", "status"],
    },
    "search_kb": {
        "type": "object",
        "properties": {"hits": {"type": "array", "items": {"type": "string"}}},
        "required": ["hits"],
    },
}
"""JSON Schemas of the tools' results."""

_TASKS = {  # task class -> (tool, base llm ms, base tool ms)
    "account_review": ("crm_lookup", 800.0, 120.0),
    "refund": ("create_refund", 1100.0, 300.0),
    "kb_answer": ("search_kb", 650.0, 60.0),
}
_MODEL = "openai/gpt-4o-2024-08-06"
_SERVED = "gpt-4o-2024-08-06"
_FILLER = (
    "Please look into this for me, the customer wrote in twice already about the same issue "
    "and expects an answer today. Keep the reply short and polite and cite the account."
)


@dataclass
class SynthCorpus:
    """Generated spans (generic JSONL dicts) with the truth about each trace."""

    seed: int
    spans: list[dict[str, Any]] = field(default_factory=list)
    planted: dict[str, str | None] = field(default_factory=dict)
    """trace id -> the planted problem (None for a clean trace)."""
    ground_truth: dict[str, Any] = field(default_factory=dict)
    """tool step id -> the recorded correct result."""

    def expected_flags(self, trace_id: str) -> frozenset[str]:
        """The flags the audit must raise on ``trace_id`` (empty for a clean trace)."""
        problem = self.planted[trace_id]
        return EXPECTED_FLAGS[problem] if problem else frozenset()


def _tool_defs() -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {"name": n, "description": f"The {n} tool.", "parameters": s},
        }
        for n, s in TOOLS.items()
    ]


def _args(tool: str, i: int, bad: bool) -> dict[str, Any]:
    if tool == "crm_lookup":
        return {"customer_id": f"X{i}" if bad else f"C{i % 1000000:06d}", "fields": ["tier"]}
    if tool == "create_refund":
        return {"order_id": f"O-{i}", "amount": -5.0 if bad else 19.5, "currency": "USD"}
    return {"query": "" if bad else f"reset password account {i % 97}", "top_k": 3}


def _result(tool: str, i: int, variant: int) -> dict[str, Any]:
    if tool == "crm_lookup":
        return {"customer_id": f"C{i % 1000000:06d}", "tier": ["gold", "silver"][variant]}
    if tool == "create_refund":
        return {"refund_id": f"R-{i}-{variant}", "status": "ok"}
    return {"hits": [f"kb-{i % 97}", f"kb-{(i + variant) % 97}"]}


def _trace(
    i: int, rng: np.random.Generator, problem: str | None, t0: datetime
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    task = list(_TASKS)[i % len(_TASKS)]
    tool, llm_ms, tool_ms = _TASKS[task]
    tid = f"t{i:08d}"
    jitter = rng.uniform(0.8, 1.2, size=3)
    slow_at = int(rng.integers(0, 3)) if problem == "slow_span" else -1
    durations = [llm_ms * jitter[0], tool_ms * jitter[1], llm_ms * jitter[2]]
    if slow_at >= 0:
        durations[slow_at] *= float(rng.uniform(2.5, 4.0))
    customer = ["acme", "globex", "initech", "umbrella"][int(rng.integers(0, 4))]
    user = {"role": "user", "content": f"Case {i}: {_FILLER}"}
    system = {"role": "system", "content": f"You are the {task} agent. Use the tools."}
    args = _args(tool, i, problem == "tool_args_invalid")
    call_id = f"call_{i}"
    served = _SERVED
    base = {"trace_id": tid, "task_class": task, "segments": {"customer": customer}}
    plan: dict[str, Any] = {
        **base,
        "step_id": f"{tid}-1",
        "kind": "llm",
        "name": f"chat {_MODEL}",
        "model_requested": _MODEL,
        "model_served": served,
        "provider_served": "openai",
        "input_messages": [system, user],
        "tool_definitions": _tool_defs(),
        "output_message": {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": tool, "arguments": _json(args)},
                }
            ],
        },
        "usage": {"input_tokens": 310, "output_tokens": 24},
        "cost_usd": 0.0009,
    }
    truth = _result(tool, i, 0)
    result = truth
    if problem == "tool_result_invalid":
        result = {"error": "upstream returned HTML"}
    elif problem == "tool_result_mismatch":
        result = _result(tool, i, 1)
    run: dict[str, Any] = {
        **base,
        "step_id": f"{tid}-2",
        "parent_id": f"{tid}-1",
        "kind": "tool",
        "name": f"execute_tool {tool}",
        "tool_name": tool,
        "tool_call_id": call_id,
        "tool_arguments": _json(args),
        "tool_result": result,
    }
    final: dict[str, Any] = {
        **base,
        "step_id": f"{tid}-3",
        "parent_id": f"{tid}-2",
        "kind": "llm",
        "name": f"chat {_MODEL}",
        "model_requested": _MODEL,
        "model_served": served,
        "provider_served": "openai",
        "input_messages": [
            system,
            user,
            plan["output_message"],
            {"role": "tool", "tool_call_id": call_id, "content": _json(result)},
        ],
        "output_message": {"role": "assistant", "content": f"Done: {task} for case {i}."},
        "usage": {"input_tokens": 420, "output_tokens": 18},
        "cost_usd": 0.0011,
    }
    steps = [plan, run, final]
    target = steps[2 if rng.random() < 0.5 else 0]
    if problem == "fallback":
        target.update(
            fallback_index=1,
            provider_served="anthropic",
            model_served="claude-sonnet-4-6",
        )
    elif problem == "retry":
        target["retry_count"] = int(rng.integers(1, 3))
    elif problem == "model_swap":
        target["model_served"] = "gpt-4o-mini-2024-07-18"
    elif problem == "cache_hit":
        target.update(cache_hit=True, cache_kind="semantic")
        durations[steps.index(target)] = llm_ms * 0.9  # keep timing within the clean band
    elif problem == "step_error":
        # a tool error that the agent recovered from: the trace still ends ok
        run.update(status="error", error_type="HTTP500", error_message="crm 500, retried by agent")
    at = t0
    for step, ms in zip(steps, durations, strict=True):
        step["started_at"] = at.isoformat()
        step["duration_ms"] = round(float(ms), 3)
        at += timedelta(milliseconds=float(ms))
    return steps, {run["step_id"]: truth}


def _json(value: Any) -> str:
    import orjson

    return orjson.dumps(value).decode()


def iter_synth(
    n_traces: int, *, seed: int, problem_rate: float = 0.3, start: int = 0
) -> Iterator[tuple[list[dict[str, Any]], str | None, dict[str, Any]]]:
    """Yield ``(spans, planted_problem, ground_truth)`` per trace, deterministically.

    Args:
        n_traces: how many traces.
        seed: the seed (the same seed gives the same corpus).
        problem_rate: share of traces that get one planted problem.
        start: index of the first trace (for generating a corpus in chunks).
    """
    rng = np.random.default_rng(seed)
    t0 = datetime(2026, 5, 1, tzinfo=UTC)
    for i in range(start, start + n_traces):
        problem: str | None = None
        if rng.random() < problem_rate:
            problem = PROBLEMS[int(rng.integers(0, len(PROBLEMS)))]
        steps, truth = _trace(i, rng, problem, t0 + timedelta(seconds=7 * i))
        yield steps, problem, truth


def synth_corpus(n_traces: int, *, seed: int, problem_rate: float = 0.3) -> SynthCorpus:
    """Generate a whole corpus in memory; see :func:`iter_synth`."""
    corpus = SynthCorpus(seed=seed)
    for steps, problem, truth in iter_synth(n_traces, seed=seed, problem_rate=problem_rate):
        corpus.spans.extend(steps)
        corpus.planted[steps[0]["trace_id"]] = problem
        corpus.ground_truth.update(truth)
    return corpus
