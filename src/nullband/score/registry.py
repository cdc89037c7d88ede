"""Finding scorers by name and applying them to records.

A scorer is named in the config as a built-in (``exact``), an entry point of group
``nullband.scorers`` (installed by a plugin package), or a dotted path
``package.module:factory``. The factory is called with the scorer's ``options``.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from typing import Any

from nullband.config.models import ScorerSpec
from nullband.errors import ScorerError
from nullband.records import Record
from nullband.score.base import AnyScorer, AsyncScorer, Scorer, ScoreResult, merge_results
from nullband.score.json_match import JsonScorer
from nullband.score.match import ContainsScorer, ExactScorer, NormalizedScorer, RegexScorer
from nullband.suite.case import Case

ScorerFactory = Callable[..., AnyScorer]

BUILTINS: dict[str, ScorerFactory] = {
    "exact": ExactScorer,
    "normalized": NormalizedScorer,
    "contains": ContainsScorer,
    "regex": RegexScorer,
    "json": JsonScorer,
}
"""Built-in scorer factories by name; other packages of nullband add theirs on import."""

_TOOLCALLS = "nullband.score.toolcalls.builtins"
_LAZY_BUILTINS: dict[str, str] = {
    "tool_calls": _TOOLCALLS,
    "bfcl": _TOOLCALLS,
    "extraction": _TOOLCALLS,
    "trajectory": _TOOLCALLS,
    "recovery_judge": _TOOLCALLS,
    "judge_rubric": "nullband.score.judge",
    "judge_pairwise": "nullband.score.judge",
}
"""Names whose factory lives in a module imported on first use (name -> module)."""


def register_builtin(name: str, factory: ScorerFactory) -> None:
    """Add a built-in scorer factory (used by nullband's own scorer modules)."""
    BUILTINS[name] = factory


def register_lazy(name: str, module: str) -> None:
    """Declare that importing ``module`` registers the built-in ``name``."""
    _LAZY_BUILTINS[name] = module


def _from_dotted(path: str) -> ScorerFactory:
    module_name, _, attr = path.partition(":")
    if not attr:
        raise ScorerError(
            f"scorer {path!r} is not a built-in, and not of the form 'package.module:factory'",
            hint=f"built-ins: {', '.join(sorted(available()))}",
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ScorerError(f"scorer {path!r}: cannot import {module_name!r}: {exc}") from None
    try:
        factory = getattr(module, attr)
    except AttributeError:
        raise ScorerError(f"scorer {path!r}: module {module_name!r} has no {attr!r}") from None
    if not callable(factory):
        raise ScorerError(f"scorer {path!r}: {attr!r} is not callable")
    return factory  # type: ignore[no-any-return]


def available() -> list[str]:
    """Names of the built-in and installed (entry point) scorers."""
    names = set(BUILTINS) | set(_LAZY_BUILTINS)
    names |= {ep.name for ep in entry_points(group="nullband.scorers")}
    return sorted(names)


def resolve_factory(name: str) -> ScorerFactory:
    """The factory for a scorer name (built-in, entry point or dotted path).

    Raises:
        ScorerError: no scorer of that name exists.
    """
    if name in BUILTINS:
        return BUILTINS[name]
    if name in _LAZY_BUILTINS:
        importlib.import_module(_LAZY_BUILTINS[name])
        if name in BUILTINS:
            return BUILTINS[name]
    for ep in entry_points(group="nullband.scorers"):
        if ep.name == name:
            return ep.load()  # type: ignore[no-any-return]
    if ":" in name:
        return _from_dotted(name)
    raise ScorerError(
        f"unknown scorer {name!r}",
        hint=f"use one of {', '.join(available())}, or 'package.module:factory'",
    )


def load_scorer(spec: ScorerSpec) -> AnyScorer:
    """Build one scorer from its spec.

    Raises:
        ScorerError: unknown name, bad options, or an object that is not a scorer.
    """
    factory = resolve_factory(spec.name)
    try:
        scorer = factory(**spec.options)
    except TypeError as exc:
        raise ScorerError(f"scorer {spec.name!r}: bad options {spec.options!r}: {exc}") from None
    if not isinstance(scorer, Scorer | AsyncScorer):
        raise ScorerError(
            f"scorer {spec.name!r} built a {type(scorer).__name__}, which has no "
            "'name' and 'score(case, record)' (or async 'ascore')"
        )
    return scorer


def load_scorers(specs: Sequence[ScorerSpec]) -> list[AnyScorer]:
    """Build every scorer of a config, in order."""
    return [load_scorer(s) for s in specs]


def _is_async(scorer: AnyScorer) -> bool:
    return isinstance(scorer, AsyncScorer) and inspect.iscoroutinefunction(
        getattr(scorer, "ascore", None)
    )


class ScorerSet:
    """Scorers classified sync or async once, for scoring many records.

    ``isinstance`` against the runtime-checkable scorer protocols costs about 40 us per
    check, more than the rest of scoring a record; a set does it when built. Pass a set
    to :func:`score_record` (or call :meth:`score`) when scoring a whole run.
    """

    __slots__ = ("_items", "scorers")

    def __init__(self, scorers: Sequence[AnyScorer]) -> None:
        self.scorers: tuple[AnyScorer, ...] = tuple(scorers)
        self._items: tuple[tuple[AnyScorer, bool], ...] = tuple(
            (s, _is_async(s)) for s in self.scorers
        )

    def __len__(self) -> int:
        return len(self._items)

    async def score(
        self, case: Case, record: Record
    ) -> tuple[dict[str, float | None], dict[str, str]]:
        """Scores and reasons of one record (see :func:`score_record`)."""
        if record.status != "ok" or not self._items:
            return {}, {}
        items = self._items
        if case.scorers is not None:
            wanted = set(case.scorers)
            items = tuple(it for it in items if it[0].name in wanted)
        results: list[tuple[str, ScoreResult]] = []
        for scorer, is_async in items:
            try:
                if is_async:
                    res = await scorer.ascore(case, record)  # type: ignore[union-attr]
                else:
                    res = scorer.score(case, record)  # type: ignore[union-attr]
            except Exception as exc:  # a user scorer's bug must not lose the run
                res = ScoreResult(reason=f"{scorer.name} raised {type(exc).__name__}: {exc}")
            results.append((scorer.name, res))
        return merge_results(results)


async def score_record(
    case: Case, record: Record, scorers: Sequence[AnyScorer] | ScorerSet
) -> tuple[dict[str, float | None], dict[str, str]]:
    """Apply scorers to one record; returns its ``scores`` and ``score_reasons``.

    A record whose call failed (status 'error') gets no scores. When the case names its
    own ``scorers``, only those of the loaded scorers apply. A scorer that raises does not
    crash the run: its reason is recorded and it gives no verdict.

    ``scorers`` may be a :class:`ScorerSet` (classified once: the fast path for many
    records) or a plain sequence (classified on each call).
    """
    chosen = scorers if isinstance(scorers, ScorerSet) else ScorerSet(scorers)
    return await chosen.score(case, record)


def describe(scorer: Any) -> str:
    """A one-line description of a scorer (its docstring's first line)."""
    doc = inspect.getdoc(scorer) or ""
    return doc.splitlines()[0] if doc else ""
