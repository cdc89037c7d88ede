"""Run-level trajectory summary per target: the pooled recovery rate, loops, length delta,
selection, argument F1, final answers and pass^k, each with what it was computed from.

Recovery is pooled (errors recovered / tool errors, over all trajectories); its interval
is a cluster bootstrap of that ratio with whole trajectories resampled, because the errors
of one trajectory are not independent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np
from pydantic import BaseModel, Field

from nullband.records import Record
from nullband.score.trajectory import TrajectoryScorer, pass_hat_k, recovery
from nullband.stats import bootstrap_mean
from nullband.suite.case import Case


class TrajectorySummary(BaseModel):
    """One target's trajectories, summarised."""

    target: str = Field(description="Target name.")
    trajectories: int = Field(description="Records scored (cases x epochs).")
    tool_calls: int = Field(description="Tool calls made in all of them.")
    tool_errors: int = Field(description="Tool results that were errors.")
    recovered: int = Field(description="Errors recovered (next call not a repeat, tool later ok).")
    recovery_rate: float | None = Field(description="recovered / tool_errors; null with none.")
    recovery_ci: list[float] | None = Field(description="Cluster-bootstrap interval of the rate.")
    loops: int = Field(description="Trajectories where one identical call failed 3+ times.")
    mean_length_delta: float | None = Field(description="Mean calls taken minus gold calls.")
    mean_selection: float | None = Field(description="Mean traj_selection.")
    mean_arg_f1: float | None = Field(description="Mean traj_arg_f1 over records that have one.")
    final_answer_rate: float | None = Field(description="Share with the final answer found.")
    pass_k: dict[str, float] = Field(
        default_factory=dict, description="pass^k of the record's 'pass' score, k = 1..epochs."
    )
    notes: list[str] = Field(default_factory=list, description="What could not be computed.")


def _mean(xs: Sequence[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return sum(vals) / len(vals) if vals else None


def summarize_trajectories(
    cases: Iterable[Case],
    records: Iterable[Record],
    *,
    scorer: TrajectoryScorer | None = None,
    confidence: float = 0.95,
    resamples: int = 2000,
    seed: int = 0,
) -> list[TrajectorySummary]:
    """Summaries per target of the records whose case has trajectory gold."""
    sc = scorer or TrajectoryScorer()
    by_id = {c.id: c for c in cases}
    groups: dict[str, list[tuple[Case, Record]]] = defaultdict(list)
    for r in records:
        case = by_id.get(r.case_id)
        if case is not None and r.status == "ok":
            groups[r.target].append((case, r))
    out = []
    for target, items in sorted(groups.items()):
        values = []
        per_traj: list[tuple[int, int]] = []
        n_calls = 0
        passes: dict[str, list[bool]] = defaultdict(list)
        for case, r in items:
            taken, _ = sc.taken(r)
            n_calls += len(taken)
            per_traj.append(recovery(taken))
            values.append(sc.score(case, r).values)
            if r.scores.get("pass") is not None:
                passes[case.id].append(float(r.scores["pass"] or 0.0) >= 1.0 - 1e-6)
        rec = sum(a for a, _ in per_traj)
        err = sum(b for _, b in per_traj)
        notes: list[str] = []
        ci = None
        if err:
            idx = [i for i, (_, b) in enumerate(per_traj) if b]
            ratios = np.array([per_traj[i][0] / per_traj[i][1] for i in idx])
            weights = np.array([float(per_traj[i][1]) for i in idx])
            res = bootstrap_mean(
                ratios,
                weights=weights,
                clusters=np.array(idx),
                confidence=confidence,
                resamples=resamples,
                seed=seed,
            )
            ci = res.interval.as_list()
        else:
            notes.append("no tool errors: recovery rate undefined")
        pass_k: dict[str, float] = {}
        if passes:
            counts = [(sum(v), len(v)) for v in passes.values()]
            for k in range(1, min(n for _, n in counts) + 1):
                pass_k[str(k)] = pass_hat_k(counts, k)
        else:
            notes.append("no 'pass' score on the records: pass^k undefined")
        out.append(
            TrajectorySummary(
                target=target,
                trajectories=len(items),
                tool_calls=n_calls,
                tool_errors=err,
                recovered=rec,
                recovery_rate=rec / err if err else None,
                recovery_ci=ci,
                loops=sum(1 for v in values if v.get("loop") == 1.0),
                mean_length_delta=_mean([v.get("length_delta") for v in values]),
                mean_selection=_mean([v.get("traj_selection") for v in values]),
                mean_arg_f1=_mean([v.get("traj_arg_f1") for v in values]),
                final_answer_rate=_mean([v.get("final_answer") for v in values]),
                pass_k=pass_k,
                notes=notes,
            )
        )
    return out
