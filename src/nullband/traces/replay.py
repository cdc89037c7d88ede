"""Replay suites: eval cases built from sampled, scrubbed production traces.

The production response is the reference. A trace with tool calls becomes a case whose
``expected`` is the list of calls the agent made (scored by the tool-call scorer,
``tool_calls``: tool name exact, arguments graded) and whose ``tool_results`` are the
recorded tool outputs, so the runner plays the trajectory back. A trace without tool
calls becomes a free-text case with the production answer as the reference, scored by
the judge named in ``judge`` (e.g. ``judge_pairwise``) when one is configured.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson

from nullband.suite.case import Case
from nullband.traces.schema import Step
from nullband.traces.scrub import ScrubbedTrace, require_scrubbed
from nullband.traces.validate import parse_json_arg

TOOL_SCORER = "tool_calls"


def _llm_steps(steps: Sequence[Step]) -> list[Step]:
    return [s for s in steps if s.kind == "llm" and s.output_message is not None]


def _calls(step: Step) -> list[dict[str, Any]]:
    out = []
    for call in (step.output_message or {}).get("tool_calls") or []:
        fn = call.get("function") or {}
        args, _ = parse_json_arg(fn.get("arguments", "{}"))
        out.append({"name": fn.get("name", ""), "arguments": args if args is not None else {}})
    return out


def trace_to_case(
    st: ScrubbedTrace,
    *,
    judge: str | None = None,
    extra_segments: dict[str, str] | None = None,
    prefix: str = "replay-",
) -> Case | None:
    """One replay case from a scrubbed trace, or None when it has no model call to replay."""
    (item,) = require_scrubbed([st], "building a replay case")
    trace = item.trace
    llm = _llm_steps(trace.steps)
    if not llm:
        return None
    calls = [c for s in llm for c in _calls(s)]
    segments = dict(trace.segments)
    if trace.task_class:
        segments["task_class"] = trace.task_class
    segments.update(extra_segments or {})
    meta = {"source_trace_id": trace.trace_id, "scrub_session": item.session_id}
    if calls:
        first = next(s for s in llm if _calls(s))
        results = [
            {
                "name": s.tool_name,
                "arguments": parse_json_arg(s.tool_arguments)[0],
                "output": s.tool_result
                if isinstance(s.tool_result, str)
                else orjson.dumps(s.tool_result).decode(),
            }
            for s in trace.steps
            if s.kind == "tool" and s.tool_name
        ]
        return Case(
            id=f"{prefix}{trace.trace_id}",
            input=first.input_messages or [{"role": "user", "content": ""}],
            tools=first.tool_definitions or None,
            tool_results=results or None,
            expected=calls,
            segments=segments,
            metadata={**meta, "model_served": first.model_served},
            scorers=[TOOL_SCORER],
        )
    last = llm[-1]
    content = (last.output_message or {}).get("content")
    return Case(
        id=f"{prefix}{trace.trace_id}",
        input=last.input_messages or [{"role": "user", "content": ""}],
        expected=content if isinstance(content, str) else orjson.dumps(content).decode(),
        segments=segments,
        metadata={**meta, "model_served": last.model_served},
        scorers=[judge] if judge else None,
    )


def traces_to_cases(
    traces: Iterable[ScrubbedTrace],
    *,
    judge: str | None = None,
    clusters: dict[str, int] | None = None,
) -> list[Case]:
    """Replay cases for every trace that has a model call (cluster label as a segment)."""
    items = require_scrubbed(traces, "building a replay suite")
    out = []
    for st in items:
        extra = {}
        if clusters and st.trace.trace_id in clusters:
            extra["cluster"] = str(clusters[st.trace.trace_id])
        case = trace_to_case(st, judge=judge, extra_segments=extra)
        if case is not None:
            out.append(case)
    return out


def write_suite(cases: Iterable[Case], path: str | Path) -> int:
    """Write cases as a suite JSONL file; returns how many."""
    n = 0
    with Path(path).open("wb") as fh:
        for c in cases:
            fh.write(c.model_dump_json(exclude_defaults=True).encode() + b"\n")
            n += 1
    return n


def write_chat_dataset(traces: Iterable[ScrubbedTrace], path: str | Path) -> int:
    """Write a fine-tuning dataset (chat JSONL: ``{"messages", "tools"}``) from scrubbed traces.

    Each trace gives one example: the last model call's conversation plus its answer.
    """
    items = require_scrubbed(traces, "writing a fine-tuning dataset")
    n = 0
    with Path(path).open("wb") as fh:
        for st in items:
            llm = _llm_steps(st.trace.steps)
            if not llm:
                continue
            last = llm[-1]
            row: dict[str, Any] = {"messages": [*last.input_messages, last.output_message]}
            tools = next((s.tool_definitions for s in llm if s.tool_definitions), None)
            if tools:
                row["tools"] = tools
            fh.write(orjson.dumps(row) + b"\n")
            n += 1
    return n
