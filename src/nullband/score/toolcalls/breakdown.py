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
from nullband.stats import MetricKind, PairedSummary, bootstrap_mean, paired_summary
from nullband.suite.case import Case

SIGNALS = ("selection", "arg_f1", "recovery", "length_delta", "pass")
BINARY = {"pass"}


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
    """Per-tool rows of one record (none for error records or cases without tool gold)."""
    if record.status != "ok":
        return []
    sc = scorer or ToolCallScorer()
    acc: dict[str, _Acc] = defaultdict(_Acc)
    try:
        if _is_trajectory(case):
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
        scores: dict[str, float | None] = {
            "selection": a.right / a.gold if a.gold else None,
            "arg_f1": sum(a.f1s) / len(a.f1s) if a.f1s else None,
            "recovery": sum(a.events) / len(a.events) if a.events else None,
            "length_delta": float(a.taken - a.gold),
            "pass": (1.0 if a.exact == a.gold == a.taken else 0.0) if a.gold else None,
        }
        rows.append(
            ResultRow(
                case_id=f"{case.id}::{tool}",
                case_hash=record.case_hash,
                epoch=record.epoch,
                segments={**case.segments, "tool": tool},
                weight=case.weight,
                adversarial=case.adversarial,
                cluster=case.cluster or case.id,
                scores=scores,
                model=model,
            )
        )
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
    reason: str | None = Field(default=None, description="Why the mean or interval is missing.")


class ToolDelta(BaseModel):
    """One signal of one tool compared between a baseline and a candidate."""

    tool: str = Field(description="Tool name, or '(all)'.")
    metric: str = Field(description="Signal name.")
    summary: PairedSummary = Field(description="The paired comparison (means, delta, interval, p).")


def _by_tool(rows: Sequence[ResultRow]) -> dict[str, list[ResultRow]]:
    groups: dict[str, list[ResultRow]] = defaultdict(list)
    for r in rows:
        groups[r.segments.get("tool", "?")].append(r)
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
) -> list[SignalSummary]:
    """Mean and cluster-bootstrap interval of each signal per tool for one target."""
    out = []
    for tool, group in _by_tool(rows).items():
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
                    reason=iv.reason if not iv.available else None,
                )
            )
    return out


def _case_means(rows: Sequence[ResultRow], metric: str) -> dict[str, tuple[float, str]]:
    sums: dict[str, list[float]] = defaultdict(list)
    cluster: dict[str, str] = {}
    for r in rows:
        v = r.scores.get(metric)
        if v is not None:
            sums[r.case_id].append(float(v))
            cluster[r.case_id] = r.cluster or r.case_id
    return {k: (sum(v) / len(v), cluster[k]) for k, v in sums.items()}


def compare_tools(
    baseline: Sequence[ResultRow],
    candidate: Sequence[ResultRow],
    *,
    metrics: Sequence[str] = SIGNALS,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> list[ToolDelta]:
    """Paired per-tool deltas (candidate - baseline) of each signal.

    Rows pair by ``case_id`` (``case::tool``) after averaging epochs; only rows with a
    value on both sides count. The "(all)" rows resample whole cases (clusters).
    """
    a_groups, b_groups = _by_tool(baseline), _by_tool(candidate)
    out = []
    for tool in sorted(set(a_groups) & set(b_groups)):
        for m in metrics:
            a, b = _case_means(a_groups[tool], m), _case_means(b_groups[tool], m)
            keys = sorted(set(a) & set(b))
            av = np.array([a[k][0] for k in keys])
            bv = np.array([b[k][0] for k in keys])
            clusters = np.array([a[k][1] for k in keys]) if tool == "(all)" else None
            kind: MetricKind = "binary" if m in BINARY else "continuous"
            s = paired_summary(
                av,
                bv,
                clusters=clusters,
                confidence=confidence,
                resamples=resamples,
                seed=seed,
                kind=kind,
            )
            out.append(ToolDelta(tool=tool, metric=m, summary=s))
    return out
