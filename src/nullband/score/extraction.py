"""Structured-extraction scoring: field-level accuracy, hallucinated and omitted fields.

The gold (``Case.expected``) is a JSON object: the field map, nested objects allowed
(fields are flattened to dotted paths such as ``vendor.tax_id``). A field whose gold is
null (or a null token) must be left null by the model. The model's answer is the JSON
object in its output text (a ```json fence is allowed), else the arguments of its first
tool call.

Per gold field, after the value normalisation of :mod:`nullband.score.normalize`:

| gold  | prediction            | class        |
|-------|-----------------------|--------------|
| null  | null / missing        | correct      |
| null  | a value               | hallucinated |
| value | null / missing        | omitted      |
| value | equal                 | correct      |
| value | different             | wrong        |

Fields the gold does not have are "extra": reported, not in the accuracy denominator.
``field_accuracy`` = correct / gold fields; ``hallucination_rate`` = hallucinated /
gold-null fields (null when the gold has none); ``omission_rate`` = omitted / gold
fields with a value (null when there are none).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from nullband.records import ModelInfo, Record, ResultRow
from nullband.score.base import ScoreResult
from nullband.score.normalize import DateOrder, NormalizeOptions, match_leaf, prepare_gold
from nullband.suite.case import Case

FieldClass = Literal["correct", "hallucinated", "omitted", "wrong"]
DEFAULT_NULL_STRINGS = ("", "n/a", "na", "null", "none", "unknown")
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten nested objects to dotted paths; lists stay whole values."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def parse_answer(record: Record) -> tuple[dict[str, Any] | None, str | None]:
    """The model's JSON object answer, or (None, reason)."""
    text = (record.output_text or "").strip()
    if text:
        m = _FENCE.search(text)
        candidate = m.group(1).strip() if m else text
        try:
            value = orjson.loads(candidate)
        except orjson.JSONDecodeError:
            start, end = candidate.find("{"), candidate.rfind("}")
            value = None
            if 0 <= start < end:
                try:
                    value = orjson.loads(candidate[start : end + 1])
                except orjson.JSONDecodeError:
                    value = None
        if isinstance(value, dict):
            return value, None
    if record.tool_calls:
        try:
            value = orjson.loads(record.tool_calls[0].arguments or "{}")
        except orjson.JSONDecodeError as exc:
            return None, f"tool call arguments are not valid JSON ({exc})"
        if isinstance(value, dict):
            return value, None
    snippet = text[:60] + ("..." if len(text) > 60 else "")
    return None, f"no JSON object in the output ({snippet!r})"


@dataclass(slots=True)
class ExtractionReport:
    """Per-field classes for one record."""

    fields: dict[str, FieldClass]
    gold_null: set[str]
    extra: list[str] = field(default_factory=list)

    def rate(self, cls: FieldClass, among: set[str] | None) -> float | None:
        """Share of ``among`` (default all gold fields) in class ``cls``; None when empty."""
        keys = self.fields.keys() if among is None else among
        n = len(keys)
        return None if n == 0 else sum(self.fields[k] == cls for k in keys) / n


class ExtractionScorer:
    """Field-level extraction scoring (``field_accuracy``, ``hallucination_rate``,
    ``omission_rate``, ``wrong_value_rate``); passes when every gold field is correct.

    Options: ``null_strings`` (strings that mean "no value"), ``date_order``, ``aliases``,
    ``id_patterns``, ``name`` (default "extraction").
    """

    def __init__(
        self,
        *,
        name: str = "extraction",
        null_strings: list[str] | None = None,
        date_order: DateOrder = "MDY",
        aliases: dict[str, str] | None = None,
        id_patterns: list[str] | None = None,
    ) -> None:
        self.name = name
        self.null_strings = frozenset(
            s.strip().casefold()
            for s in (null_strings if null_strings is not None else DEFAULT_NULL_STRINGS)
        )
        self.options = NormalizeOptions(
            date_order=date_order, aliases=dict(aliases or {}), id_patterns=tuple(id_patterns or ())
        )

    def is_null(self, v: Any) -> bool:
        """Whether a value means "no value" (null, a null string, an empty list or object)."""
        if v is None:
            return True
        if isinstance(v, str):
            return v.strip().casefold() in self.null_strings
        return isinstance(v, list | dict) and not v

    def report(self, gold: dict[str, Any], pred: dict[str, Any]) -> ExtractionReport:
        """Classify every gold field of one answer."""
        g, p = flatten(gold), flatten(pred)
        classes: dict[str, FieldClass] = {}
        gold_null: set[str] = set()
        for path, gv in g.items():
            pv = p.get(path)
            if self.is_null(gv):
                gold_null.add(path)
                classes[path] = "correct" if self.is_null(pv) else "hallucinated"
            elif self.is_null(pv):
                classes[path] = "omitted"
            else:
                classes[path] = "correct" if self._equal(path, gv, pv) else "wrong"
        extra = [k for k, v in p.items() if k not in g and not self.is_null(v)]
        return ExtractionReport(classes, gold_null, extra)

    def _equal(self, path: str, gv: Any, pv: Any) -> bool:
        key = path.rsplit(".", 1)[-1]
        if isinstance(gv, list):
            if not isinstance(pv, list) or len(pv) != len(gv):
                return False
            return all(self._equal(path, a, b) for a, b in zip(gv, pv, strict=True))
        if isinstance(gv, dict):
            return isinstance(pv, dict) and flatten(gv) == flatten(pv)
        leaf = prepare_gold(gv, self.options, key=key)
        return match_leaf(leaf, pv, self.options) in ("match", "coerced")

    def score(self, case: Case, record: Record) -> ScoreResult:
        """Score one record's extracted fields."""
        gold = case.expected
        if not isinstance(gold, dict):
            return ScoreResult(reason=f"case {case.id!r}: expected must be a JSON object of fields")
        pred, why = parse_answer(record)
        if pred is None:
            return ScoreResult(values={"field_accuracy": 0.0}, passed=False, reason=why)
        rep = self.report(gold, pred)
        valued = set(rep.fields) - rep.gold_null
        values: dict[str, float | None] = {
            "field_accuracy": rep.rate("correct", None),
            "hallucination_rate": rep.rate("hallucinated", rep.gold_null),
            "omission_rate": rep.rate("omitted", valued),
            "wrong_value_rate": rep.rate("wrong", valued),
        }
        bad = {k: c for k, c in rep.fields.items() if c != "correct"}
        passed = not bad
        reason = None
        if bad:
            reason = ", ".join(f"{k}: {c}" for k, c in sorted(bad.items()))
        if rep.extra:
            reason = (reason + "; " if reason else "") + f"extra fields: {', '.join(rep.extra)}"
        return ScoreResult(values=values, passed=passed, reason=reason)


FIELD_SIGNALS = ("field_correct", "hallucinated", "omitted", "wrong_value")


def field_rows(
    case: Case, record: Record, scorer: ExtractionScorer | None = None
) -> list[ResultRow]:
    """One result row per gold field (segment ``field``), for per-field tables and paired
    comparisons: ``field_correct`` (0/1), ``hallucinated`` (0/1, only where the gold is
    null), ``omitted`` and ``wrong_value`` (0/1, only where the gold has a value). A failed
    call or an unreadable answer gives rows with ``error`` set."""
    sc = scorer or ExtractionScorer()
    if not isinstance(case.expected, dict):
        return []
    fields = list(flatten(case.expected))
    model = ModelInfo(
        requested=record.provenance.requested,
        served=record.provenance.served,
        fingerprint=record.provenance.fingerprint,
    )
    base = {
        "case_hash": record.case_hash,
        "epoch": record.epoch,
        "weight": case.weight,
        "adversarial": case.adversarial,
        "cluster": case.cluster or case.id,
        "model": model,
    }
    pred, why = parse_answer(record) if record.status == "ok" else (None, record.error)
    if pred is None:
        return [
            ResultRow(
                case_id=f"{case.id}::{f}",
                segments={**case.segments, "field": f},
                error=why or "call failed",
                **base,
            )
            for f in fields
        ]
    rep = sc.report(case.expected, pred)
    rows = []
    for f, cls in rep.fields.items():
        null = f in rep.gold_null
        scores: dict[str, float | None] = {
            "field_correct": float(cls == "correct"),
            "hallucinated": float(cls == "hallucinated") if null else None,
            "omitted": None if null else float(cls == "omitted"),
            "wrong_value": None if null else float(cls == "wrong"),
        }
        rows.append(
            ResultRow(
                case_id=f"{case.id}::{f}",
                segments={**case.segments, "field": f},
                scores=scores,
                **base,
            )
        )
    return rows
