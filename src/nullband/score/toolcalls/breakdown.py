"""Per-tool breakdowns: the four signals per target and per tool, with intervals, and
paired per-tool deltas between two targets (or runs).

Each (case, tool, epoch) becomes one :class:`~nullband.records.ResultRow` whose
``case_id`` is ``"<case id>::<tool>"``, whose segments carry ``tool``, and whose
``cluster`` is the case id (the tools of one case are not independent). Its scores:

- ``selection``: gold calls of this tool answered by a call of this tool (share);
- ``arg_f1``: mean argument F1 of those calls (null when none);
- ``recovery``: errors of this tool recovered (share; null when it never errored);
- ``length_delta``: calls of this tool taken minus gold calls of this tool;
- ``pass``: every gold call of this tool exact and no extra call of it.

Single-turn cases are matched optimally (:func:`match_calls`); trajectory cases (gold
``{"steps": ...}`` or recorded ``tool_results``) by the monotone alignment of
:func:`nullband.score.trajectory.align`. These rows are the input of the comparison
engine, so "argument F1 collapsed on date-range tools while selection stayed flat" is
one ``tools breakdown --baseline A --candidate B`` table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel, Field

from nullband.errors import NullbandError
from nullband.records import ModelInfo, Record, ResultRow
from nullband.score.toolcalls.match import GoldShapeError, compile_gold, match_calls
from nullband.score.toolcalls.parse import decode_call, tool_schemas
from nullband.score.toolcalls.scorers import ToolCallScorer
from nullband.score.trajectory import (
    TrajectoryScorer,
    align,
    gold_parts,
    recovery_events,
)
from nullband.stats import PairedSummary, bootstrap_mean
from nullband.suite.case import Case

SIGNALS = ("selection", "arg_f1", "recovery", "length_delta", "pass")


@dataclass(slots=True)
class _Acc:
    gold: int = 0
    right: int = 0
    exact: int = 0
    taken: int = 0
    f1s: list[float] = field(default_factory=list)
    events: list[bool] = field(default_factory=list)


def _is_trajectory(case: Case) -> bool:
    return bool(case.tool_results) or (isinstance(case.expected, dict) and "steps" in case.expected)


def tool_rows(
    case: Case,
    record: Record,
    *,
    scorer: ToolCallScorer | None = None,
    trajectory: TrajectoryScorer | None = None,
) -> list[ResultRow]:
    """Per-tool rows of one record (none for cases without tool-call gold).

    A failed call (status "error") gives one row per gold tool with ``error`` set and no
    scores, so the comparison engine can count it as a failure or leave the case out.
    """
    sc = scorer or ToolCallScorer()
    acc: dict[str, _Acc] = defaultdict(_Acc)
    try:
        if record.status != "ok":
            gold_dicts = gold_parts(case.expected)[0] if _is_trajectory(case) else case.expected
            for g in compile_gold(gold_dicts, tool_schemas(case.tools), sc.options):
                acc[g.name].gold += 1
        elif _is_trajectory(case):
            tr = trajectory or TrajectoryScorer()
            gold_dicts, _, _ = gold_parts(case.expected)
            gold = (
                compile_gold(gold_dicts, tool_schemas(case.tools), sc.options) if gold_dicts else []
            )
            taken, _ = tr.taken(record)
            for g in gold:
                acc[g.name].gold += 1
            for t in taken:
                acc[t.call.name].taken += 1
            for gi, _tj, tally in align(gold, taken, sc.options):
                a = acc[gold[gi].name]
                a.right += 1
                a.f1s.append(tally.f1 if tally is not None else 0.0)
                a.exact += int(tally is not None and tally.exact)
            for tool, ok in recovery_events(taken):
                acc[tool].events.append(ok)
        else:
            gold = sc.gold(case)
            pred = [decode_call(c) for c in record.tool_calls]
            for g in gold:
                acc[g.name].gold += 1
            for p in pred:
                acc[p.name].taken += 1
            for pair in match_calls(gold, pred, sc.options):
                if pair.gold is None or not pair.name_ok:
                    continue
                a = acc[pair.tool]
                a.right += 1
                a.f1s.append(pair.tally.f1 if pair.tally is not None else 0.0)
                a.exact += int(pair.tally is not None and pair.tally.exact)
    except GoldShapeError:
        return []
    rows = []
    model = ModelInfo(
        requested=record.provenance.requested,
        served=record.provenance.served,
        fingerprint=record.provenance.fingerprint,
    )
    for tool, a in sorted(acc.items()):
        common = {
            "case_id": f"{case.id}::{tool}",
            "case_hash": record.case_hash,
            "epoch": record.epoch,
            "segments": {**case.segments, "tool": tool},
            "weight": case.weight,
            "adversarial": case.adversarial,
            "cluster": case.cluster or case.id,
            "model": model,
        }
        if record.status != "ok":
            rows.append(ResultRow(**common, error=record.error or "call failed"))
            continue
        scores: dict[str, float | None] = {
            "selection": a.right / a.gold if a.gold else None,
            "arg_f1": sum(a.f1s) / len(a.f1s) if a.f1s else None,
            "recovery": sum(a.events) / len(a.events) if a.events else None,
            "length_delta": float(a.taken - a.gold),
            "pass": (1.0 if a.exact == a.gold == a.taken else 0.0) if a.gold else None,
        }
        rows.append(ResultRow(**common, scores=scores))
    return rows


def rows_for(
    cases: Iterable[Case], records: Iterable[Record], **kwargs: ToolCallScorer | TrajectoryScorer
) -> dict[str, list[ResultRow]]:
    """Per-tool rows of many records, grouped by target."""
    by_id = {c.id: c for c in cases}
    out: dict[str, list[ResultRow]] = defaultdict(list)
    for r in records:
        case = by_id.get(r.case_id)
        if case is not None:
            out[r.target].extend(tool_rows(case, r, **kwargs))  # type: ignore[arg-type]
    return dict(out)


class SignalSummary(BaseModel):
    """One signal of one tool (or "(all)") on one target."""

    target: str = Field(description="Target name.")
    tool: str = Field(description="Tool name, or '(all)'.")
    metric: str = Field(description="Signal name.")
    n: int = Field(description="Rows with a value (case x tool x epoch).")
    mean: float | None = Field(description="Mean; null when n = 0.")
    ci: list[float] | None = Field(description="Interval of the mean; null when unavailable.")
    method: str = Field(description="How the interval was made (cluster bootstrap by case).")
    ci_level: float | None = Field(default=None, description="Confidence level of the interval.")
    reason: str | None = Field(default=None, description="Why the mean or interval is missing.")


class ToolDelta(BaseModel):
    """One signal of one tool compared between a baseline and a candidate."""

    tool: str = Field(description="Tool name, or '(all)'.")
    metric: str = Field(description="Signal name.")
    summary: PairedSummary | None = Field(
        description="The paired comparison (means, delta, interval, p); null when impossible."
    )
    p_adjusted: float | None = Field(
        default=None, description="Holm-adjusted p across the tools (null for '(all)')."
    )
    low_confidence: bool = Field(
        default=False, description="Fewer paired rows than min_cases: shown, not to be trusted."
    )
    n_tools: int | None = Field(default=None, description="Tools compared (on '(all)').")
    reason: str | None = Field(default=None, description="Why there is no summary.")


def _by_tool(rows: Sequence[ResultRow], dim: str = "tool") -> dict[str, list[ResultRow]]:
    groups: dict[str, list[ResultRow]] = defaultdict(list)
    for r in rows:
        groups[r.segments.get(dim, "?")].append(r)
        groups["(all)"].append(r)
    return dict(sorted(groups.items()))


def summarize(
    target: str,
    rows: Sequence[ResultRow],
    *,
    metrics: Sequence[str] = SIGNALS,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
    dim: str = "tool",
) -> list[SignalSummary]:
    """Mean and cluster-bootstrap interval of each signal per tool (or per value of the
    segment ``dim``, e.g. "field" for extraction rows) for one target."""
    out = []
    for tool, group in _by_tool(rows, dim).items():
        for m in metrics:
            pairs = [(r.scores.get(m), r.cluster or r.case_id) for r in group]
            vals = [(float(v), c) for v, c in pairs if v is not None]
            if not vals:
                out.append(
                    SignalSummary(
                        target=target,
                        tool=tool,
                        metric=m,
                        n=0,
                        mean=None,
                        ci=None,
                        method="none",
                        reason="no values",
                    )
                )
                continue
            x = np.array([v for v, _ in vals])
            res = bootstrap_mean(
                x,
                clusters=np.array([c for _, c in vals]),
                confidence=confidence,
                resamples=resamples,
                seed=seed,
            )
            iv = res.interval
            out.append(
                SignalSummary(
                    target=target,
                    tool=tool,
                    metric=m,
                    n=len(vals),
                    mean=float(x.mean()),
                    ci=iv.as_list(),
                    method=iv.method,
                    ci_level=confidence,
                    reason=iv.reason if not iv.available else None,
                )
            )
    return out


def compare_tools(
    baseline: Sequence[ResultRow],
    candidate: Sequence[ResultRow],
    *,
    metrics: Sequence[str] = SIGNALS,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
    min_cases: int = 20,
    dim: str = "tool",
) -> list[ToolDelta]:
    """Paired per-tool deltas (candidate - baseline) of each signal, by the comparison
    engine (:func:`nullband.compare.compare_rows` with ``by=["tool"]``).

    Rows pair by ``case_id`` (``case::tool``), epochs averaged per case; the "(all)" line
    is the engine's overall result, which resamples whole cases (the row's cluster). Tools
    with fewer than ``min_cases`` paired rows are flagged low-confidence; p-values are
    Holm-adjusted across tools. A signal with no value on a side gives one "(all)" line
    with the reason.
    """
    from nullband.compare import compare_rows

    out: list[ToolDelta] = []
    for m in metrics:
        try:
            cmp = compare_rows(
                baseline,
                candidate,
                metric=m,
                by=[dim],
                confidence=confidence,
                resamples=resamples,
                seed=seed,
                min_cases=min_cases,
            )
        except NullbandError as exc:
            out.append(
                ToolDelta(tool="(all)", metric=m, summary=None, reason=f"{m}: {exc.message}")
            )
            continue
        out.append(
            ToolDelta(tool="(all)", metric=m, summary=cmp.overall, n_tools=len(cmp.segments))
        )
        for seg in cmp.segments:
            out.append(
                ToolDelta(
                    tool=seg.segment,
                    metric=m,
                    summary=PairedSummary.model_validate(seg.model_dump(), from_attributes=False),
                    p_adjusted=seg.p_adjusted,
                    low_confidence=seg.low_confidence,
                )
            )
    return out
