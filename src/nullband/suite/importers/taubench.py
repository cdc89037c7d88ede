"""tau-bench trajectory files -> nullband cases and records.

One case per task: the system prompt and the user's first message as ``input``; the
tools seen in the trajectories (parameter schemas inferred from the arguments used);
every recorded tool output as ``tool_results`` (``{name, arguments, output}``, played back
by :func:`nullband.run.trajectory.play`); the gold ``actions`` as trajectory steps and
the task's ``outputs`` as the final answer. tau-bench's gold actions are one reference
path (mostly the writes), not a minimum, so ``length_delta`` against them is a
reference, not an optimum.

One record per (task, trial): the whole transcript in ``messages``, every tool call in
``tool_calls``, the trial as the epoch, and tau-bench's reward as scores ``reward`` and
``pass``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from nullband._canonical import content_hash
from nullband.errors import InputError
from nullband.records import Provenance, Record, ToolCall
from nullband.score.trajectory import call_key
from nullband.suite.case import Case

_JSON_TYPES = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}


def _infer(value: Any) -> dict[str, Any]:
    t = _JSON_TYPES.get(type(value), "string")
    return {"type": t}


def _load(path: str | Path) -> list[dict[str, Any]]:
    p = Path(path)
    if not p.is_file():
        raise InputError("tau-bench file not found", path=p)
    try:
        data = orjson.loads(p.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc})", path=p) from None
    if not isinstance(data, list) or not all(isinstance(r, dict) and "traj" in r for r in data):
        raise InputError(
            "expected a JSON list of tau-bench results ({task_id, trial, reward, info, traj})",
            path=p,
        )
    return data


def _calls(traj: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str | None]]:
    """Every tool call of a transcript with its result. Ids are paired in order: tau-bench
    transcripts reuse call ids, so a result belongs to the earliest unanswered call."""
    out: list[list[Any]] = []
    pending: dict[Any, list[int]] = {}
    for m in traj:
        for tc in m.get("tool_calls") or []:
            pending.setdefault(tc.get("id"), []).append(len(out))
            out.append([tc, None])
        if m.get("role") == "tool":
            queue = pending.get(m.get("tool_call_id"))
            if queue:
                out[queue.pop(0)][1] = m.get("content")
    return [(tc, result) for tc, result in out]


def import_taubench(
    path: str | Path, *, run_id: str = "taubench", target: str = "gpt-4o", domain: str | None = None
) -> tuple[list[Case], list[Record]]:
    """Cases (one per task) and records (one per trial) from a tau-bench results file.

    Raises:
        InputError: the file is missing or not tau-bench's results format.
    """
    rows = _load(path)
    dom = domain or Path(path).stem.split("_")[0].split("-")[-1]
    by_task: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        by_task.setdefault(int(r["task_id"]), []).append(r)
    cases: list[Case] = []
    case_by_task: dict[int, Case] = {}
    for task_id, trials in sorted(by_task.items()):
        task = trials[0]["info"]["task"]
        first = trials[0]["traj"]
        sys_msgs = [m for m in first if m.get("role") == "system"][:1]
        user = next((m for m in first if m.get("role") == "user"), None)
        if user is None:
            raise InputError(f"task {task_id} has no user message", path=path)
        props: dict[str, dict[str, dict[str, Any]]] = {}
        results: dict[str, dict[str, Any]] = {}
        for trial in trials:
            for tc, content in _calls(trial["traj"]):
                fn = tc["function"]
                try:
                    args = orjson.loads(fn.get("arguments") or "{}")
                except orjson.JSONDecodeError:
                    continue
                if not isinstance(args, dict):
                    continue
                p = props.setdefault(fn["name"], {})
                for k, v in args.items():
                    p.setdefault(k, _infer(v))
                if content is not None:
                    results.setdefault(
                        call_key(fn["name"], args),
                        {"name": fn["name"], "arguments": args, "output": content},
                    )
        tools = [
            {
                "type": "function",
                "function": {
                    "name": n,
                    "description": "",
                    "parameters": {"type": "object", "properties": p},
                },
            }
            for n, p in sorted(props.items())
        ]
        outputs = task.get("outputs") or []
        case = Case(
            id=f"taubench-{dom}-{task_id}",
            input=[{"role": m["role"], "content": m.get("content")} for m in [*sys_msgs, user]],
            tools=tools,
            tool_results=list(results.values()),
            expected={
                "steps": [
                    {"name": a["name"], "arguments": a.get("kwargs", {})}
                    for a in task.get("actions", [])
                ],
                "final_answer": outputs or None,
            },
            segments={"domain": dom},
            cluster=f"taubench-{dom}-{task_id}",
            metadata={
                "taubench": {
                    "task_id": task_id,
                    "user_id": task.get("user_id"),
                    "instruction": task.get("instruction"),
                }
            },
        )
        cases.append(case)
        case_by_task[task_id] = case
    records: list[Record] = []
    now = datetime.now(UTC)
    for r in rows:
        case = case_by_task[int(r["task_id"])]
        traj = r["traj"]
        final = next(
            (
                m.get("content")
                for m in reversed(traj)
                if m.get("role") == "assistant" and not m.get("tool_calls")
            ),
            None,
        )
        calls = [
            ToolCall(
                id=tc.get("id"),
                name=tc["function"]["name"],
                arguments=tc["function"].get("arguments") or "",
            )
            for tc, _ in _calls(traj)
        ]
        reward = float(r.get("reward", 0.0))
        success = abs(reward - 1.0) <= 1e-6
        records.append(
            Record(
                run_id=run_id,
                case_id=case.id,
                case_hash=case.content_hash(),
                epoch=int(r.get("trial", 0)),
                target=target,
                request_hash=content_hash(traj),
                status="ok",
                output_text=final,
                tool_calls=calls,
                messages=traj,
                provenance=Provenance(requested=target),
                scores={"reward": reward, "pass": 1.0 if success else 0.0},
                score_reasons={}
                if r["info"].get("reward_info") is not None
                else {"taubench": "hit the step limit (reward_info is null)"},
                created_at=now,
            )
        )
    return cases, records
