"""JSON match: the output parsed as JSON equals the gold value.

Key order, whitespace and number formatting do not matter (``1``, ``1.0`` and ``1e0`` are
equal). The output may wrap the JSON in a Markdown code fence or surrounding prose; the
first JSON object or array found is used. An unparseable output fails with the reason.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from nullband.records import Record
from nullband.score.base import ScoreResult
from nullband.suite.case import Case

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)


def extract_json(text: str) -> Any:
    """Parse the JSON value in ``text``: whole text, a fenced block, or the first object/array.

    Raises:
        ValueError: no JSON value could be parsed.
    """
    candidates = [text.strip()]
    candidates += [m.group(1).strip() for m in _FENCE.finditer(text)]
    decoder = json.JSONDecoder()
    for cand in candidates:
        try:
            return json.loads(cand)
        except ValueError:
            continue
    for i, ch in enumerate(text):
        if ch in "{[":
            try:
                value, _ = decoder.raw_decode(text, i)
                return value
            except ValueError:
                continue
    raise ValueError("no JSON value found in the output")


def json_equal(a: Any, b: Any, *, rel_tol: float = 1e-9) -> bool:
    """Structural equality where numbers compare by value (bools are not numbers)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b if isinstance(a, bool) and isinstance(b, bool) else False
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(float(a), float(b), rel_tol=rel_tol, abs_tol=0.0)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k], rel_tol=rel_tol) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(
            json_equal(x, y, rel_tol=rel_tol) for x, y in zip(a, b, strict=True)
        )
    return bool(a == b)


class JsonScorer:
    """Passes when the parsed output equals ``case.expected`` as JSON."""

    name = "json"

    def score(self, case: Case, record: Record) -> ScoreResult:
        if case.expected is None:
            return ScoreResult(reason="json: case has no 'expected' value")
        gold = case.expected
        if isinstance(gold, str):
            try:
                gold = json.loads(gold)
            except ValueError:
                return ScoreResult(reason="json: 'expected' is a string that is not JSON")
        try:
            value = extract_json(record.output_text or "")
        except ValueError as exc:
            return ScoreResult(values={self.name: 0.0}, passed=False, reason=f"json: {exc}")
        ok = json_equal(value, gold)
        return ScoreResult(
            values={self.name: 1.0 if ok else 0.0},
            passed=ok,
            reason=None if ok else "json: parsed output differs from the expected value",
        )
