"""Read a grade or a pairwise verdict out of a judge's free-text reply.

Judges answer in many shapes: a JSON object, ``Score: 4/5``, ``[[4]]``, ``GRADE: C``, a
number word. The parsers here try the explicit shapes first and bind to the *last*
match (a judge that reasons "a 2 would be harsh... final score: 4" means 4). Anything
they cannot read, or a grade outside the scale, comes back as a failed parse with the
reason: it is never turned into a default grade or a silent tie.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

Verdict = Literal["A", "B", "tie"]

_NUMBER_WORDS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}
_GRADE_KEYS = ("score", "grade", "rating", "rank", "verdict", "value", "points")
_NUM = r"(-?\d+(?:\.\d+)?)"
_WORD = "|".join(_NUMBER_WORDS)
_LABEL = r"(?:score|grade|rating|verdict|points|final\s+(?:score|grade|rating|answer))"
# zero-width and non-breaking spaces that some models emit around the grade
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\ufeff"), None) | {0xA0: " "}


@dataclass(frozen=True, slots=True)
class GradeParse:
    """The outcome of reading a grade.

    Attributes:
        value: the grade on the judge's scale, or None when it could not be read.
        how: which shape matched (``json``, ``brackets``, ``labelled``, ``fraction``,
            ``bare``, ``word``, ``label``), or None.
        reason: why it could not be read (None on success).
    """

    value: float | None
    how: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """True when a grade was read."""
        return self.value is not None


@dataclass(frozen=True, slots=True)
class VerdictParse:
    """The outcome of reading a pairwise verdict (positions, not candidates).

    Attributes:
        verdict: ``A`` (the first answer shown), ``B`` (the second) or ``tie``; None when
            unreadable.
        how: which shape matched.
        reason: why it could not be read.
    """

    verdict: Verdict | None
    how: str | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """True when a verdict was read."""
        return self.verdict is not None


def _snippet(text: str, n: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= n else "..." + flat[-n:]


def _json_objects(text: str) -> list[dict[str, object]]:
    """Every JSON object that can be decoded starting at a '{' in ``text``, in order."""
    found: list[dict[str, object]] = []
    decoder = json.JSONDecoder()
    i = text.find("{")
    while i != -1:
        try:
            obj, end = decoder.raw_decode(text, i)
        except ValueError:
            i = text.find("{", i + 1)
            continue
        if isinstance(obj, dict):
            found.append(obj)
        i = text.find("{", end)
    return found


def _to_number(raw: object, labels: dict[str, float]) -> float | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        return float(raw)
    if isinstance(raw, str):
        s = raw.strip().lower()
        if s in labels:
            return labels[s]
        m = re.fullmatch(_NUM + r"(?:\s*(?:/|out\s+of)\s*" + _NUM + ")?", s)
        if m:
            return float(m.group(1))
        if s in _NUMBER_WORDS:
            return float(_NUMBER_WORDS[s])
    return None


def _check_range(value: float, how: str, lo: float, hi: float, text: str) -> GradeParse:
    if lo <= value <= hi:
        return GradeParse(value=float(value), how=how)
    return GradeParse(
        value=None,
        reason=f"grade {value:g} ({how}) is outside the scale {lo:g}..{hi:g}: {_snippet(text)!r}",
    )


def parse_grade(
    text: str | None,
    *,
    scale_min: float = 1,
    scale_max: float = 5,
    labels: dict[str, float] | None = None,
) -> GradeParse:
    """Read a grade on the scale ``scale_min..scale_max`` from a judge reply.

    Shapes tried, in order, each binding to its last match: a JSON object with a
    ``score``/``grade``/``rating`` key; ``[[4]]``; a labelled grade such as
    ``Score: 4/5``, ``Rating - 4 out of 5`` or ``GRADE: C`` (letters via ``labels``); a
    bare fraction ``4/5`` whose denominator is the scale's maximum; a reply that is only
    a number, a number word or a label.

    Args:
        text: the judge's reply.
        scale_min: lowest grade allowed.
        scale_max: highest grade allowed.
        labels: word grades, lower-cased, e.g. ``{"c": 1, "i": 0}`` or ``{"pass": 1}``.

    Returns:
        A :class:`GradeParse`; on failure ``value`` is None and ``reason`` says why.

    Example:
        >>> parse_grade("Reasoning... Score: 4/5").value
        4.0
    """
    labels = {k.lower(): v for k, v in (labels or {}).items()}
    if text is None or not text.strip():
        return GradeParse(value=None, reason="the judge returned an empty reply")
    t = text.translate(_INVISIBLE)

    for obj in reversed(_json_objects(t)):
        for key in _GRADE_KEYS:
            hit = next((v for k, v in obj.items() if k.lower() == key), None)
            if hit is not None:
                num = _to_number(hit, labels)
                if num is None:
                    return GradeParse(
                        value=None, reason=f"JSON field {key!r} is not a grade: {hit!r}"
                    )
                return _check_range(num, "json", scale_min, scale_max, t)

    brackets = re.findall(r"\[\[\s*([^\[\]]{1,20}?)\s*\]\]", t)
    if brackets:
        num = _to_number(brackets[-1], labels)
        if num is None:
            return GradeParse(value=None, reason=f"[[{brackets[-1]}]] is not a grade")
        return _check_range(num, "brackets", scale_min, scale_max, t)

    label_alt = "|".join(re.escape(k) for k in sorted(labels, key=len, reverse=True))
    value_pat = rf"(?:{_NUM}(?:\s*(?:/|out\s+of)\s*{_NUM})?|\b({_WORD})\b"
    if label_alt:
        value_pat += rf"|\b({label_alt})\b"
    value_pat += ")"
    labelled = list(
        re.finditer(rf"\b{_LABEL}\s*(?:is|of|=|:|-|—)?\s*\**\s*{value_pat}", t, re.IGNORECASE)
    )
    if labelled:
        return _from_match(labelled[-1], "labelled", scale_min, scale_max, labels, t)

    fractions = list(re.finditer(rf"{_NUM}\s*(?:/|out\s+of)\s*{_NUM}", t, re.IGNORECASE))
    if fractions:
        return _from_match(fractions[-1], "fraction", scale_min, scale_max, labels, t)

    bare = t.strip().strip("*.`'\" ").lower()
    if re.fullmatch(_NUM, bare):
        return _check_range(float(bare), "bare", scale_min, scale_max, t)
    if bare in _NUMBER_WORDS:
        return _check_range(float(_NUMBER_WORDS[bare]), "word", scale_min, scale_max, t)
    if bare in labels:
        return _check_range(labels[bare], "label", scale_min, scale_max, t)
    return GradeParse(value=None, reason=f"no grade found in the reply: {_snippet(t)!r}")


def _from_match(
    m: re.Match[str],
    how: str,
    lo: float,
    hi: float,
    labels: dict[str, float],
    text: str,
) -> GradeParse:
    groups = m.groups()
    num_s, den_s = groups[0], groups[1]
    word = groups[2] if len(groups) > 2 else None
    label = groups[3] if len(groups) > 3 else None
    if num_s is not None:
        num = float(num_s)
        if den_s is not None and float(den_s) != hi:
            return GradeParse(
                value=None,
                reason=f"grade {num_s}/{den_s} is not on the scale {lo:g}..{hi:g}: "
                f"{_snippet(text)!r}",
            )
        return _check_range(num, how, lo, hi, text)
    if word is not None:
        return _check_range(float(_NUMBER_WORDS[word.lower()]), how, lo, hi, text)
    assert label is not None  # the pattern matched one of the alternatives
    return _check_range(labels[label.lower()], how, lo, hi, text)


_VERDICT_WORDS: dict[str, Verdict] = {
    "a": "A",
    "b": "B",
    "c": "tie",
    "tie": "tie",
    "draw": "tie",
    "equal": "tie",
    "neither": "tie",
    "both": "tie",
    "assistant a": "A",
    "assistant b": "B",
    "answer a": "A",
    "answer b": "B",
    "response a": "A",
    "response b": "B",
    "output a": "A",
    "output b": "B",
    "1": "A",
    "2": "B",
}
_VERDICT_KEYS = ("winner", "verdict", "preference", "better", "choice", "answer")


def _verdict_word(raw: object) -> Verdict | None:
    if not isinstance(raw, str | int) or isinstance(raw, bool):
        return None
    s = re.sub(r"[\s*`'\".\[\]()]+", " ", str(raw)).strip().lower()
    return _VERDICT_WORDS.get(s)


def parse_verdict(text: str | None) -> VerdictParse:
    """Read a pairwise verdict (``A``, ``B`` or ``tie``) from a judge reply.

    Shapes tried, each binding to its last match: a JSON object with a ``winner`` or
    ``verdict`` key; ``[[A]]``/``[[B]]``/``[[C]]``/``[[tie]]``; a labelled verdict such as
    ``Verdict: Assistant B`` or ``Winner - tie``; ``The correct answer is B``; a reply (or
    its first line) that is only ``A``, ``B`` or ``tie``. Unreadable replies are failures
    with a reason, never a tie.

    Example:
        >>> parse_verdict("B is more accurate. [[B]]").verdict
        'B'
    """
    if text is None or not text.strip():
        return VerdictParse(verdict=None, reason="the judge returned an empty reply")
    t = text.translate(_INVISIBLE)

    for obj in reversed(_json_objects(t)):
        for key in _VERDICT_KEYS:
            hit = next((v for k, v in obj.items() if k.lower() == key), None)
            if hit is not None:
                v = _verdict_word(hit)
                if v is None:
                    return VerdictParse(
                        verdict=None, reason=f"JSON field {key!r} is not a verdict: {hit!r}"
                    )
                return VerdictParse(verdict=v, how="json")

    brackets = re.findall(r"\[\[\s*(A|B|C|tie)\s*\]\]", t, re.IGNORECASE)
    if brackets:
        v = _verdict_word(brackets[-1])
        assert v is not None  # the pattern only admits known words
        return VerdictParse(verdict=v, how="brackets")

    labelled = re.findall(
        r"\b(?:final\s+)?(?:verdict|winner|preference|choice|better(?:\s+answer)?)\s*"
        r"(?:is|:|=|-|—)\s*\**\s*((?:assistant|answer|response|output)\s+[AB]\b|[AB]\b|"
        r"tie\b|draw\b|neither\b|both\b|\[\[[ABC]\]\])",
        t,
        re.IGNORECASE,
    )
    if labelled:
        v = _verdict_word(labelled[-1])
        if v is not None:
            return VerdictParse(verdict=v, how="labelled")

    stated = re.findall(
        r"\b(?:correct|best|better)\s+(?:answer|response|option|choice)\s+is\s*:?\s*"
        r"(?:answer\s+|assistant\s+|response\s+)?([AB])\b(?![\w'])",
        t,
        re.IGNORECASE,
    )
    if stated:
        v = _verdict_word(stated[-1])
        assert v is not None  # the pattern only admits A or B
        return VerdictParse(verdict=v, how="stated")

    first_line = t.strip().splitlines()[0]
    bare = _verdict_word(t) or _verdict_word(first_line)
    if bare is not None:
        return VerdictParse(verdict=bare, how="bare")
    return VerdictParse(verdict=None, reason=f"no verdict found in the reply: {_snippet(t)!r}")
