"""BFCL question and possible-answer files -> nullband cases.

Each BFCL row becomes one case: the question's messages, the functions as OpenAI tools
(BFCL's ``dict``/``float``/``tuple``/``any`` types converted to JSON Schema's
``object``/``number``/``array``/no type; dots in names become underscores, as BFCL does for
function-calling models), the ground truth unchanged as ``expected`` (BFCL's
acceptable-values form, which both the ``bfcl`` and ``tool_calls`` scorers read), the
original functions in ``metadata["bfcl"]`` (the strict scorer needs BFCL's own types)
and segments ``category`` and, when the gold calls one tool, ``tool``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from nullband.errors import InputError
from nullband.suite.case import Case
from nullband.suite.importers.common import read_jsonl

_TYPE_MAP = {"dict": "object", "float": "number", "tuple": "array"}
_BAD_NAME = re.compile(r"[^a-zA-Z0-9_-]")
CATEGORIES = ("simple", "multiple", "parallel", "parallel_multiple", "live_simple")


def to_json_schema(schema: Any) -> Any:
    """Convert a BFCL parameter schema to JSON Schema (recursively)."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for k, v in schema.items():
        if k == "type" and isinstance(v, str):
            if v == "any":
                continue
            out[k] = _TYPE_MAP.get(v, v)
        elif k == "properties" and isinstance(v, dict):
            out[k] = {name: to_json_schema(sub) for name, sub in v.items()}
        elif k in ("items", "additionalProperties"):
            out[k] = to_json_schema(v)
        else:
            out[k] = v
    if out.get("type") == "array" and "items" not in out:
        out["items"] = {}
    return out


def tool_name(name: str) -> str:
    """An OpenAI-legal tool name for a BFCL function name (``math.factorial`` -> ``math_factorial``)."""
    return _BAD_NAME.sub("_", name)


def to_tool(func: dict[str, Any]) -> dict[str, Any]:
    """A BFCL function description as an OpenAI tool definition."""
    params = to_json_schema(func.get("parameters") or {"type": "dict", "properties": {}})
    return {
        "type": "function",
        "function": {
            "name": tool_name(str(func["name"])),
            "description": func.get("description", ""),
            "parameters": params,
        },
    }


def import_bfcl(
    questions: str | Path, answers: str | Path, *, category: str | None = None
) -> list[Case]:
    """Cases from one BFCL questions file and its possible-answers file.

    Raises:
        InputError: unreadable files, or a question without an answer row.
    """
    qrows = read_jsonl(questions)
    arows = {r.get("id"): r for r in read_jsonl(answers)}
    cat = category or Path(questions).name.removesuffix(".jsonl").removesuffix("_questions")
    cases: list[Case] = []
    for lineno, q in enumerate(qrows, start=1):
        qid = q.get("id")
        if qid not in arows:
            raise InputError(f"no answer row for question {qid!r}", path=answers, line=lineno)
        turns = q.get("question") or []
        if not turns or not isinstance(turns[0], list):
            raise InputError(
                "question has no messages", path=questions, line=lineno, field="question"
            )
        messages = [m for turn in turns for m in turn]
        funcs = q.get("function") or []
        gold = arows[qid]["ground_truth"]
        names = {tool_name(next(iter(c))) for c in gold if isinstance(c, dict) and c}
        segments = {"category": cat}
        if len(names) == 1:
            segments["tool"] = next(iter(names))
        cases.append(
            Case(
                id=str(qid),
                input=messages,
                tools=[to_tool(f) for f in funcs],
                expected=gold,
                segments=segments,
                metadata={"bfcl": {"category": cat, "functions": funcs}},
            )
        )
    return cases


def import_bfcl_dir(
    folder: str | Path, *, categories: list[str] | None = None, limit: int | None = None
) -> list[Case]:
    """Cases from every ``<category>_questions.jsonl`` / ``<category>_possible_answers.jsonl``
    pair in ``folder`` (optionally only some categories, and the first ``limit`` rows of each).

    Raises:
        InputError: a requested category has no files.
    """
    root = Path(folder)
    cats = categories or [c for c in CATEGORIES if (root / f"{c}_questions.jsonl").is_file()]
    out: list[Case] = []
    for cat in cats:
        q, a = root / f"{cat}_questions.jsonl", root / f"{cat}_possible_answers.jsonl"
        if not q.is_file() or not a.is_file():
            raise InputError(
                f"BFCL category {cat!r} has no questions/answers pair",
                path=root,
                hint=f"expected {q.name} and {a.name}",
            )
        cases = import_bfcl(q, a, category=cat)
        out.extend(cases[:limit] if limit is not None else cases)
    return out
