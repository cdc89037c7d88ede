"""Value normalisation for graded tool-call and extraction scoring.

Two values "match" when they are equal after the normalisation their kind calls for:

- numbers: ints and floats compare numerically (``2 == 2.0``) with a relative tolerance;
  a numeric string (``"2"``) counts as the number when the schema says ``number`` or
  ``integer`` (a *coercion*, counted separately); booleans never equal numbers.
- dates: ``2026-05-26``, ``May 26, 2026``, ``26 May 2026``, ``Jan. 5, 2026`` and
  ``05/26/2026`` (day/month order declared by ``date_order``, never guessed) all become
  ISO ``YYYY-MM-DD``; a time is compared only when the gold has one.
- IDs (key names ending in ``id``, or values matching a declared pattern): whitespace is
  stripped, case is kept.
- strings: Unicode NFKC, case folded, whitespace collapsed; an alias table maps
  spellings onto one canonical value (``NYC`` -> ``new york``); enum values are strings.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Literal

DateOrder = Literal["MDY", "DMY"]

_MONTHS = {
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "may": 5,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "sept": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
_MONTH_RE = (
    r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_TIME_RE = r"(?:[ t](?P<time>\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(?P<tz>z|[+-]\d{2}:?\d{2})?)?"
_ISO = re.compile(r"(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})" + _TIME_RE + r"$")
_NUMERIC = re.compile(r"(?P<a>\d{1,2})[-/.](?P<b>\d{1,2})[-/.](?P<y>\d{4})" + _TIME_RE + r"$")
_MON_FIRST = re.compile(_MONTH_RE + r"\s*(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s*(?P<y>\d{4})$")
_DAY_FIRST = re.compile(r"(?P<d>\d{1,2})(?:st|nd|rd|th)?\s+" + _MONTH_RE + r",?\s*(?P<y>\d{4})$")
_NUM_STR = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$", re.IGNORECASE)


def _valid(y: int, m: int, d: int) -> bool:
    if not (1 <= m <= 12 and 1 <= d <= 31 and 1 <= y <= 9999):
        return False
    days = [31, 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28, 31, 30, 31, 30]
    days += [31, 31, 30, 31, 30, 31]
    return d <= days[m - 1]


def parse_date(text: str, date_order: DateOrder = "MDY") -> tuple[str, str | None] | None:
    """Parse a date string into ``(YYYY-MM-DD, time or None)``; None when it is no date.

    ``date_order`` says how to read ``05/06/2026`` (``MDY``: May 6; ``DMY``: 5 June). A
    numeric date that is impossible in the declared order is not a date (no guessing).

    Example:
        >>> parse_date("May 26, 2026")
        ('2026-05-26', None)
    """
    s = text.strip().lower()
    if len(s) < 8 or len(s) > 40:
        return None
    m = _ISO.match(s)
    y = mo = d = 0
    time: str | None = None
    if m:
        y, mo, d = int(m["y"]), int(m["m"]), int(m["d"])
        time = m["time"]
    elif m := _NUMERIC.match(s):
        a, b = int(m["a"]), int(m["b"])
        mo, d = (a, b) if date_order == "MDY" else (b, a)
        y = int(m["y"])
        time = m["time"]
    elif m := (_MON_FIRST.match(s) or _DAY_FIRST.match(s)):
        mon = m["mon"]
        mo = _MONTHS[mon[:4] if mon.startswith("sept") else mon[:3]]
        y, d = int(m["y"]), int(m["d"])
    else:
        return None
    if not _valid(y, mo, d):
        return None
    if time is not None:
        parts = time.split(":")
        time = f"{int(parts[0]):02d}:{parts[1]}:{parts[2] if len(parts) > 2 else '00'}"
        if m["tz"]:
            time += m["tz"].upper()
    return f"{y:04d}-{mo:02d}-{d:02d}", time


def norm_text(value: str) -> str:
    """NFKC, case fold, collapse runs of whitespace, strip."""
    if value.isascii():
        return " ".join(value.lower().split())
    return " ".join(unicodedata.normalize("NFKC", value).casefold().split())


@dataclass(frozen=True)
class NormalizeOptions:
    """How graded scoring compares values.

    Attributes:
        date_order: how to read numeric dates like ``05/06/2026`` ("MDY" or "DMY").
        rel_tol: relative tolerance for numbers (ints compare exactly unless fractional).
        aliases: spelling -> canonical value, applied to strings after normalisation
            (``{"NYC": "New York"}``).
        id_keys: regex on the last key of a path; matching keys hold IDs (case kept).
        id_patterns: regexes on values; a matching gold value is treated as an ID.
        coerce_numeric_strings: accept ``"2"`` for ``2`` where the schema says number.
        unordered_lists: match list elements by optimal assignment instead of position
            (for lists whose order carries no meaning, e.g. a set of tags).
    """

    date_order: DateOrder = "MDY"
    rel_tol: float = 1e-9
    aliases: dict[str, str] = field(default_factory=dict)
    id_keys: str = r"(?:^|_)[iI][dD]$|[a-z]Id$"
    id_patterns: tuple[str, ...] = ()
    coerce_numeric_strings: bool = True
    unordered_lists: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "_alias", {norm_text(k): norm_text(v) for k, v in self.aliases.items()}
        )
        object.__setattr__(self, "_id_key_re", re.compile(self.id_keys))
        object.__setattr__(self, "_id_val_res", tuple(re.compile(p) for p in self.id_patterns))


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


@dataclass(frozen=True, slots=True)
class GoldLeaf:
    """A gold value prepared once so that comparisons are cheap.

    Attributes:
        kind: "num", "bool", "date", "id", "text", "null" or "other".
        key: the comparable form (float, bool, ISO date, stripped ID, folded text, JSON).
        time: the gold's time of day for dates, when it has one.
        raw: the value as given.
    """

    kind: str
    key: Any
    time: str | None
    raw: Any


def prepare_gold(
    value: Any, opts: NormalizeOptions, *, schema_type: str | None = None, key: str = ""
) -> GoldLeaf:
    """Prepare one gold leaf value for :func:`match_leaf`."""
    if value is None:
        return GoldLeaf("null", None, None, value)
    if isinstance(value, bool):
        return GoldLeaf("bool", value, None, value)
    if _is_num(value):
        return GoldLeaf("num", float(value), None, value)
    if isinstance(value, str):
        if schema_type in ("number", "integer", "float") and _NUM_STR.match(value.strip()):
            return GoldLeaf("num", float(value), None, value)
        if _is_id(value, key, opts):
            return GoldLeaf("id", value.strip(), None, value)
        if value[:1].isalnum() and any(c.isdigit() for c in value):
            parsed = parse_date(value, opts.date_order)
            if parsed is not None:
                return GoldLeaf("date", parsed[0], parsed[1], value)
        return GoldLeaf("text", _alias(norm_text(value), opts), None, value)
    return GoldLeaf("other", value, None, value)


def _is_id(value: str, key: str, opts: NormalizeOptions) -> bool:
    if key and opts._id_key_re.search(key):  # type: ignore[attr-defined]
        return True
    return any(r.fullmatch(value.strip()) for r in opts._id_val_res)  # type: ignore[attr-defined]


def _alias(text: str, opts: NormalizeOptions) -> str:
    table: dict[str, str] = opts._alias  # type: ignore[attr-defined]
    return table.get(text, text) if table else text


LeafVerdict = Literal["match", "coerced", "type_error", "value_error"]


def match_leaf(gold: GoldLeaf, pred: Any, opts: NormalizeOptions) -> LeafVerdict:
    """Compare a predicted leaf with a prepared gold leaf.

    Returns "match", "coerced" (equal after accepting a numeric string for a number),
    "type_error" (e.g. a bool for a number, a string where a number is required) or
    "value_error".
    """
    kind = gold.kind
    if kind == "num":
        if _is_num(pred):
            return "match" if _num_eq(gold.key, float(pred), opts.rel_tol) else "value_error"
        if isinstance(pred, str) and opts.coerce_numeric_strings and _NUM_STR.match(pred.strip()):
            return "coerced" if _num_eq(gold.key, float(pred), opts.rel_tol) else "value_error"
        return "type_error"
    if kind == "text":
        if not isinstance(pred, str):
            return "type_error"
        return "match" if _alias(norm_text(pred), opts) == gold.key else "value_error"
    if kind == "date":
        if not isinstance(pred, str):
            return "type_error"
        parsed = parse_date(pred, opts.date_order)
        if parsed is None:
            return "value_error"
        if parsed[0] != gold.key:
            return "value_error"
        if gold.time is not None and parsed[1] != gold.time:
            return "value_error"
        return "match"
    if kind == "id":
        if not isinstance(pred, str):
            return "type_error"
        return "match" if pred.strip() == gold.key else "value_error"
    if kind == "bool":
        if not isinstance(pred, bool):
            return "type_error"
        return "match" if pred == gold.key else "value_error"
    if kind == "null":
        return "match" if pred is None else "value_error"
    return "match" if pred == gold.key else "value_error"


def _num_eq(a: float, b: float, rel_tol: float) -> bool:
    if a == b:
        return True
    return math.isclose(a, b, rel_tol=rel_tol, abs_tol=0.0)
