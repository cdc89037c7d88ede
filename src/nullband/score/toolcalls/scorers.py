"""The ``tool_calls`` (graded) and ``bfcl`` (strict) scorers.

``tool_calls`` gives, per record:

- ``selection``: gold calls answered by a call of the right tool, over
  ``max(gold calls, predicted calls)`` (extra and missing calls both cost);
- ``arg_f1`` (and ``arg_precision``, ``arg_recall``): the mean weighted argument F1 over
  the calls whose tool was right (null when no call picked the right tool, so argument
  quality is not mixed up with selection);
- a verdict: every gold call matched by the right tool with exact (normalised) arguments
  and no extra call.

``bfcl`` gives ``bfcl`` = 1/0 and the verdict of BFCL's strict rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nullband.records import Record, ToolCall
from nullband.score.base import ScoreResult
from nullband.score.normalize import DateOrder, NormalizeOptions
from nullband.score.toolcalls.bfcl import BfclGold, Matching, check_calls
from nullband.score.toolcalls.gold import GoldCall, is_bfcl_form, plain_calls
from nullband.score.toolcalls.match import CallPair, GoldShapeError, compile_gold, match_calls
from nullband.score.toolcalls.parse import decode_call, resolve_name, tool_schemas
from nullband.suite.case import Case

_CACHE_MAX = 8192


class _GoldCache:
    """Compiled gold per case object (scoring many epochs/targets reuses it)."""

    def __init__(self) -> None:
        self._items: dict[tuple[int, str], tuple[Case, Any]] = {}

    def get(self, case: Case, kind: str) -> Any:
        hit = self._items.get((id(case), kind))
        if hit is not None and hit[0] is case:
            return hit[1]
        return None

    def put(self, case: Case, kind: str, value: Any) -> None:
        if len(self._items) >= _CACHE_MAX:
            self._items.clear()
        self._items[(id(case), kind)] = (case, value)


@dataclass(slots=True)
class CallsReport:
    """Graded result of one set of predicted calls against one set of gold calls."""

    pairs: list[CallPair]
    n_gold: int
    n_pred: int

    @property
    def selection(self) -> float:
        """Right-tool pairs over max(gold, predicted) calls; 1.0 when both are empty."""
        denom = max(self.n_gold, self.n_pred)
        return 1.0 if denom == 0 else sum(p.name_ok for p in self.pairs) / denom

    def _mean(self, attr: str) -> float | None:
        vals = [
            (getattr(p.tally, attr) if p.tally is not None else 0.0)
            for p in self.pairs
            if p.name_ok
        ]
        return sum(vals) / len(vals) if vals else None

    def arg_means(self) -> dict[str, float | None]:
        """Mean ``arg_f1``, ``arg_precision`` and ``arg_recall`` over right-tool calls."""
        n = 0
        f1 = p = r = 0.0
        for pair in self.pairs:
            if pair.name_ok:
                n += 1
                t = pair.tally
                if t is not None:
                    f1 += t.f1
                    p += t.precision
                    r += t.recall
        if n == 0:
            return {"arg_f1": None, "arg_precision": None, "arg_recall": None}
        return {"arg_f1": f1 / n, "arg_precision": p / n, "arg_recall": r / n}

    @property
    def arg_f1(self) -> float | None:
        """Mean argument F1 over right-tool calls (malformed arguments count 0)."""
        return self._mean("f1")

    @property
    def passed(self) -> bool:
        """All gold calls right with exact arguments, and nothing extra."""
        return self.n_gold == self.n_pred and all(
            p.name_ok and p.tally is not None and p.tally.exact for p in self.pairs
        )

    def reason(self) -> str | None:
        """The problems, in words (None when it passed)."""
        if self.passed:
            return None
        out: list[str] = []
        for p in self.pairs:
            if p.error:
                out.append(f"malformed: {p.error}")
            elif p.gold is None:
                out.append(f"extra call {p.tool!r}")
            elif p.pred is None:
                out.append(f"missing call {p.tool!r}")
            elif not p.name_ok:
                out.append(f"wrong tool for {p.tool!r}")
            elif p.tally is not None and not p.tally.exact:
                t = p.tally
                out.append(
                    f"{p.tool}: arg_f1={t.f1:.3f} (missing {t.missing}, extra {t.extra}, "
                    f"type errors {t.type_errors}, wrong values {t.value_errors})"
                )
        return "; ".join(out) or "calls do not match"


class ToolCallScorer:
    """Graded tool-call scoring: selection, argument F1 and an exact-match verdict.

    Options (all optional): ``date_order`` ("MDY"/"DMY"), ``aliases`` (spelling ->
    canonical), ``id_keys`` (regex on key names holding IDs), ``id_patterns`` (regexes on
    ID values), ``rel_tol``, ``coerce_numeric_strings``, ``unordered_lists`` (match list
    elements order-free), ``name`` (default "tool_calls").
    """

    def __init__(
        self,
        *,
        name: str = "tool_calls",
        date_order: DateOrder = "MDY",
        aliases: dict[str, str] | None = None,
        id_keys: str | None = None,
        id_patterns: list[str] | None = None,
        rel_tol: float = 1e-9,
        coerce_numeric_strings: bool = True,
        unordered_lists: bool = False,
    ) -> None:
        self.name = name
        kwargs: dict[str, Any] = {
            "unordered_lists": unordered_lists,
            "date_order": date_order,
            "aliases": dict(aliases or {}),
            "id_patterns": tuple(id_patterns or ()),
            "rel_tol": rel_tol,
            "coerce_numeric_strings": coerce_numeric_strings,
        }
        if id_keys is not None:
            kwargs["id_keys"] = id_keys
        self.options = NormalizeOptions(**kwargs)
        self._cache = _GoldCache()

    def gold(self, case: Case) -> list[GoldCall]:
        """The case's compiled gold calls (cached per case object)."""
        hit = self._cache.get(case, "plain")
        if hit is None:
            hit = compile_gold(case.expected, tool_schemas(case.tools), self.options)
            self._cache.put(case, "plain", hit)
        return hit  # type: ignore[no-any-return]

    def report(self, case: Case, calls: list[ToolCall] | list[dict[str, Any]]) -> CallsReport:
        """Score predicted calls against the case's gold (raises GoldShapeError on bad gold)."""
        gold = self.gold(case)
        pred = [decode_call(c) for c in calls]
        return CallsReport(match_calls(gold, pred, self.options), len(gold), len(pred))

    def score(self, case: Case, record: Record) -> ScoreResult:
        """Score one record's tool calls."""
        try:
            rep = self.report(case, record.tool_calls)
        except GoldShapeError as exc:
            return ScoreResult(reason=f"case {case.id!r}: {exc}")
        values: dict[str, float | None] = {"selection": rep.selection}
        values.update(rep.arg_means())
        return ScoreResult(values=values, passed=rep.passed, reason=rep.reason())


def bfcl_functions(case: Case) -> list[dict[str, Any]]:
    """BFCL function descriptions for a case: the originals an importer kept in
    ``metadata["bfcl"]["functions"]``, else the case's OpenAI tools."""
    meta = case.metadata.get("bfcl")
    if isinstance(meta, dict) and isinstance(meta.get("functions"), list):
        return list(meta["functions"])
    out = []
    for tool in case.tools or []:
        fn = tool.get("function", tool)
        if isinstance(fn, dict) and "name" in fn:
            out.append(fn)
    return out


def bfcl_gold(case: Case) -> list[BfclGold]:
    """The case's gold as BFCL calls (a plain gold becomes one acceptable value per key).

    Raises:
        GoldShapeError: the gold is neither shape.
    """
    expected = case.expected
    if not is_bfcl_form(expected):
        plain = plain_calls(expected)
        if plain is None:
            raise GoldShapeError("expected is not a list of tool calls")
        expected = [{c["name"]: {k: [v] for k, v in c["arguments"].items()}} for c in plain]
    funcs = bfcl_functions(case)
    by_name = {f["name"]: f for f in funcs}
    offered = tool_schemas(case.tools) or by_name
    out = []
    for call in expected:
        ((name, params),) = call.items()
        func = by_name.get(name) or by_name.get(name.replace(".", "_")) or {"name": name}
        out.append(BfclGold(resolve_name(name, offered), func, params))
    return out


class BfclScorer:
    """BFCL-compatible strict scoring; ``matching`` is "optimal" (default) or "greedy"."""

    def __init__(self, *, name: str = "bfcl", matching: Matching = "optimal") -> None:
        self.name = name
        self.matching: Matching = matching
        self._cache = _GoldCache()

    def score(self, case: Case, record: Record) -> ScoreResult:
        """Score one record with BFCL's rules."""
        gold = self._cache.get(case, "bfcl")
        if gold is None:
            try:
                gold = bfcl_gold(case)
            except GoldShapeError as exc:
                return ScoreResult(reason=f"case {case.id!r}: {exc}")
            self._cache.put(case, "bfcl", gold)
        verdict = check_calls(
            gold, [decode_call(c) for c in record.tool_calls], matching=self.matching
        )
        reason = None if verdict.valid else f"{verdict.error_type}: {verdict.error}"
        return ScoreResult(
            values={self.name: float(verdict.valid)}, passed=verdict.valid, reason=reason
        )
