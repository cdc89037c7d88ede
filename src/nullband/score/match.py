"""Text scorers: exact, normalised text, regex and contains.

Each compares the record's output text with ``case.expected`` (a string, or a list of
acceptable strings). A case whose gold is missing is unscored, with the reason.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from nullband.errors import ScorerError
from nullband.records import Record
from nullband.score.base import ScoreResult
from nullband.suite.case import Case

_WS = re.compile(r"\s+")
_PUNCT_EDGE = re.compile(r"^[\s\"'`.,;:!?()\[\]{}]+|[\s\"'`.,;:!?()\[\]{}]+$")


def normalize_text(text: str) -> str:
    """Unicode NFKC, case-folded, whitespace collapsed, edge punctuation and quotes stripped.

    Example:
        >>> normalize_text("  The  Answer: 42. ")
        'the answer: 42'
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _WS.sub(" ", text).strip()
    return _PUNCT_EDGE.sub("", text)


def _golds(case: Case, scorer: str) -> list[str] | ScoreResult:
    exp: Any = case.expected
    if isinstance(exp, dict) and "text" in exp:
        exp = exp["text"]
    if exp is None:
        return ScoreResult(reason=f"{scorer}: case has no 'expected' value")
    if isinstance(exp, str):
        return [exp]
    if isinstance(exp, list) and all(isinstance(e, str) for e in exp):
        return list(exp)
    if isinstance(exp, int | float | bool):
        return [str(exp)]
    return ScoreResult(
        reason=f"{scorer}: 'expected' must be a string or a list of strings, "
        f"got {type(exp).__name__}"
    )


def _output(record: Record) -> str:
    return record.output_text or ""


class ExactScorer:
    """Passes when the output equals a gold string exactly (surrounding whitespace ignored)."""

    name = "exact"

    def score(self, case: Case, record: Record) -> ScoreResult:
        golds = _golds(case, self.name)
        if isinstance(golds, ScoreResult):
            return golds
        out = _output(record).strip()
        ok = any(out == g.strip() for g in golds)
        return _verdict(self.name, ok, out, golds)


class NormalizedScorer:
    """Passes when the normalised output equals a normalised gold (see normalize_text)."""

    name = "normalized"

    def score(self, case: Case, record: Record) -> ScoreResult:
        golds = _golds(case, self.name)
        if isinstance(golds, ScoreResult):
            return golds
        out = normalize_text(_output(record))
        ok = any(out == normalize_text(g) for g in golds)
        return _verdict(self.name, ok, _output(record), golds)


class ContainsScorer:
    """Passes when the normalised output contains a normalised gold."""

    name = "contains"

    def score(self, case: Case, record: Record) -> ScoreResult:
        golds = _golds(case, self.name)
        if isinstance(golds, ScoreResult):
            return golds
        out = normalize_text(_output(record))
        ok = any(normalize_text(g) in out for g in golds)
        return _verdict(self.name, ok, _output(record), golds)


class RegexScorer:
    """Passes when a pattern matches the output (search, not full match).

    The pattern is the scorer option ``pattern`` or, per case, ``expected`` (a string or
    list of patterns). Option ``flags`` is a string of ``i`` (ignore case), ``m``, ``s``.
    """

    name = "regex"

    def __init__(self, pattern: str | None = None, flags: str = "") -> None:
        self._flags = 0
        for ch in flags:
            if ch not in "ims":
                raise ScorerError(f"regex scorer: unknown flag {ch!r}; use any of 'i', 'm', 's'")
            self._flags |= {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}[ch]
        self._fixed = self._compile(pattern) if pattern is not None else None

    def _compile(self, pattern: str) -> re.Pattern[str]:
        try:
            return re.compile(pattern, self._flags)
        except re.error as exc:
            raise ScorerError(f"regex scorer: invalid pattern {pattern!r}: {exc}") from None

    def score(self, case: Case, record: Record) -> ScoreResult:
        if self._fixed is not None:
            patterns = [self._fixed]
        else:
            golds = _golds(case, self.name)
            if isinstance(golds, ScoreResult):
                return golds
            try:
                patterns = [self._compile(g) for g in golds]
            except ScorerError as exc:
                return ScoreResult(reason=str(exc))
        out = _output(record)
        ok = any(p.search(out) for p in patterns)
        return _verdict(self.name, ok, out, [p.pattern for p in patterns])


def _verdict(name: str, ok: bool, out: str, golds: list[str]) -> ScoreResult:
    if ok:
        return ScoreResult(values={name: 1.0}, passed=True)
    shown = out if len(out) <= 80 else out[:77] + "..."
    want = golds[0] if len(golds) == 1 else f"one of {len(golds)} golds"
    return ScoreResult(
        values={name: 0.0}, passed=False, reason=f"{name}: got {shown!r}, expected {want!r}"
    )
