"""Compare load runs of two serving configs: delta of a tail quantile, block bootstrap, gate.

Requests in one run share queue state (a burst slows its neighbours), so they are not
independent; we resample contiguous *time windows* of the schedule instead of single
requests. Both arms replayed the same schedule, so each resample draws the same window
indices for both arms (pairing cancels the trace's own burst variance), and with
repeats every run contributes its own requests of those windows (stratified by run).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, Field

from nullband.load.metrics import RequestMetrics, measured, metric_samples, request_metrics
from nullband.load.quantiles import quantile_label
from nullband.load.records import RequestRecord
from nullband.load.summary import LoadSummary

COMPARISON_SCHEMA_VERSION = 1
Decision = Literal["PASS", "FAIL", "INCONCLUSIVE", "INVALID"]
EXIT_CODES: dict[str, int] = {"PASS": 0, "FAIL": 1, "INCONCLUSIVE": 3, "INVALID": 4}

Arm = Sequence[tuple[LoadSummary, Sequence[RequestRecord]]]
_Blocks = list[list[NDArray[np.float64]]]  # [run][block] -> samples


class Interval(BaseModel):
    """A point estimate with a percentile-bootstrap interval."""

    value: float | None = Field(description="Point estimate; null without data.")
    lower: float | None = Field(description="Lower bound; null without data.")
    upper: float | None = Field(description="Upper bound; null without data.")


class MetricDelta(BaseModel):
    """One metric's quantile in both arms and their difference."""

    metric: str = Field(description="Metric name (see docs/load.md).")
    quantile: str = Field(description="Quantile label, e.g. 'p99'.")
    n_baseline: int = Field(description="Pooled baseline samples.")
    n_candidate: int = Field(description="Pooled candidate samples.")
    baseline: Interval = Field(description="Baseline quantile (ms), pooled over its runs.")
    candidate: Interval = Field(description="Candidate quantile (ms), pooled over its runs.")
    delta: Interval = Field(description="candidate - baseline (ms).")
    ratio: Interval = Field(description="candidate / baseline.")
    baseline_runs: list[float | None] = Field(description="The quantile in each baseline run.")
    candidate_runs: list[float | None] = Field(description="The quantile in each candidate run.")


class GateRule(BaseModel):
    """A tail-latency rule: an absolute ceiling or a ceiling relative to the baseline."""

    metric: str = Field(description="Metric name, e.g. 'ttft'.")
    q: float = Field(gt=0, lt=1, description="Quantile level, e.g. 0.99.")
    kind: Literal["max_ms", "max_ratio"] = Field(description="Absolute ms, or ratio to baseline.")
    limit: float = Field(gt=0, description="The ceiling (ms, or a ratio such as 1.10).")

    def text(self) -> str:
        """The rule as the user wrote it."""
        q = quantile_label(self.q)
        if self.kind == "max_ms":
            return f"{self.metric}.{q} <= {self.limit:g} ms"
        return f"{self.metric}.{q} <= baseline x {self.limit:g}"


class RuleResult(BaseModel):
    """A rule's decision with the interval it was decided on."""

    rule: str = Field(description="The rule in words.")
    decision: Literal["PASS", "FAIL", "INCONCLUSIVE"] = Field(description="Outcome.")
    interval: Interval = Field(description="The interval the decision used.")
    message: str = Field(description="Why, with the values.")


class LoadComparison(BaseModel):
    """compare.json: baseline vs candidate load runs, and the gate decision."""

    schema_version: int = Field(default=COMPARISON_SCHEMA_VERSION, description="Schema version.")
    kind: Literal["load_comparison"] = Field(default="load_comparison", description="File kind.")
    baseline_runs: list[str] = Field(description="Run ids of the baseline arm.")
    candidate_runs: list[str] = Field(description="Run ids of the candidate arm.")
    method: str = Field(description="How intervals were computed.")
    level: float = Field(description="Confidence level.")
    resamples: int = Field(description="Bootstrap resamples.")
    seed: int = Field(description="Seed of the bootstrap.")
    block_s: float | None = Field(description="Window length of the block bootstrap, seconds.")
    blocks: int = Field(description="Windows in the schedule.")
    deltas: list[MetricDelta] = Field(description="Per metric.")
    rules: list[RuleResult] = Field(description="Gate rules and their outcomes.")
    decision: Decision = Field(description="PASS, FAIL, INCONCLUSIVE or INVALID.")
    reasons: list[str] = Field(default_factory=list, description="Why INVALID / INCONCLUSIVE.")
    warnings: list[str] = Field(default_factory=list, description="Things to know.")

    @property
    def exit_code(self) -> int:
        """0 PASS, 1 FAIL, 3 INCONCLUSIVE, 4 INVALID."""
        return EXIT_CODES[self.decision]


def parse_rule(text: str) -> GateRule:
    """Parse 'ttft.p99<=2000ms', 'ttft.p99<=2s' or 'ttft.p99<=+10%'.

    Raises:
        ValueError: the text is not a rule.
    """
    t = text.replace(" ", "")
    left, sep, right = t.partition("<=")
    m = re.fullmatch(r"([A-Za-z_]+)\.p(\d+(?:\.\d+)?)", left)
    if not sep or m is None:
        raise ValueError(f"not a rule: {text!r}; write e.g. ttft.p99<=2s or ttft.p99<=+10%")
    metric, qs = m.group(1), "p" + m.group(2)
    q = float(qs[1:]) / 100
    if right.startswith("+") and right.endswith("%"):
        return GateRule(metric=metric, q=q, kind="max_ratio", limit=1 + float(right[1:-1]) / 100)
    if right.endswith("x"):
        return GateRule(metric=metric, q=q, kind="max_ratio", limit=float(right[:-1]))
    if right.endswith("ms"):
        return GateRule(metric=metric, q=q, kind="max_ms", limit=float(right[:-2]))
    if right.endswith("s"):
        return GateRule(metric=metric, q=q, kind="max_ms", limit=float(right[:-1]) * 1e3)
    raise ValueError(f"limit must end in ms, s, x or be +N%: {right!r}")


DEFAULT_RULES = ("ttft.p99<=2s", "ttft.p99<=+10%")


def _blocks(
    ok: Sequence[tuple[RequestRecord, RequestMetrics]], metric: str, block_ns: int, k: int
) -> list[NDArray[np.float64]]:
    by_block: list[list[tuple[RequestRecord, RequestMetrics]]] = [[] for _ in range(k)]
    for r, d in ok:
        by_block[min(k - 1, r.planned_ns // block_ns)].append((r, d))
    return [metric_samples([r for r, _ in b], metric, [d for _, d in b]) for b in by_block]


def _boot_quantiles(
    runs: _Blocks, counts: NDArray[np.int32], q: float, chunk: int = 64
) -> NDArray[np.float64]:
    """The q-quantile of each resample, where resample i takes block j counts[i, j] times
    from every run. Computed as a weighted quantile over the sorted pooled sample (the
    lower order statistic at rank ceil(q * total)), without materialising resamples."""
    vals = [x for run in runs for x in run]
    bids = [np.full(x.size, j % counts.shape[1]) for run in runs for j, x in enumerate(run)]
    out = np.full(counts.shape[0], np.nan)
    if not vals or sum(x.size for x in vals) == 0:
        return out
    v = np.concatenate(vals)
    bid = np.concatenate(bids)
    order = np.argsort(v, kind="stable")
    v, bid = v[order], bid[order]
    for s in range(0, counts.shape[0], chunk):
        w = counts[s : s + chunk][:, bid]
        cum = np.cumsum(w, axis=1, dtype=np.int64)
        total = cum[:, -1]
        target = np.ceil(q * total)
        idx = np.minimum((cum < target[:, None]).sum(axis=1), v.size - 1)
        res = v[idx]
        res[total == 0] = np.nan
        out[s : s + chunk] = res
    return out


def _q(x: NDArray[np.float64], q: float) -> float | None:
    return float(np.quantile(x, q)) if x.size else None


def _interval(point: float | None, draws: NDArray[np.float64], level: float) -> Interval:
    d = draws[np.isfinite(draws)]
    if point is None or d.size == 0:
        return Interval(value=point, lower=None, upper=None)
    a = (1 - level) / 2
    return Interval(value=point, lower=float(np.quantile(d, a)), upper=float(np.quantile(d, 1 - a)))


def compare_arms(
    baseline: Arm,
    candidate: Arm,
    *,
    metrics: Sequence[str] = ("ttft", "tpot", "itl_event", "e2e"),
    q: float = 0.99,
    rules: Sequence[GateRule] | None = None,
    block_s: float | None = None,
    resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> LoadComparison:
    """Compare two arms (each: one or more runs of the same schedule) and apply the gate."""
    rules = list(rules) if rules is not None else [parse_rule(r) for r in DEFAULT_RULES]
    reasons: list[str] = []
    warnings: list[str] = []
    runs = list(baseline) + list(candidate)
    if not baseline or not candidate:
        reasons.append("each arm needs at least one run")
    for s, _ in runs:
        if s.validity.verdict != "VALID":
            reasons.append(f"run {s.run_id} ({s.label or 'unlabelled'}) is INVALID: "
                           + "; ".join(s.validity.reasons))  # fmt: skip
    fps = {s.schedule.fingerprint for s, _ in runs}
    if len(fps) > 1:
        reasons.append(
            f"the runs replayed {len(fps)} different schedules; compare runs of the same "
            "trace and seed"
        )
    if len(baseline) != len(candidate):
        warnings.append(f"unequal repeats: {len(baseline)} baseline vs {len(candidate)} candidate")
    all_rules = {(r.metric, r.q) for r in rules} | {(m, q) for m in metrics}
    span_ns = max((max((r.planned_ns for r in rs), default=0) for _, rs in runs), default=0)
    ok_all = [r for _, rs in runs for r in measured(rs)]
    e2e = [d.e2e for d in map(request_metrics, ok_all) if d.e2e is not None]
    if block_s is None:
        block_s = max(10 * (float(np.mean(e2e)) / 1e3 if e2e else 1.0), 1e-3)
        if span_ns / 1e9 / block_s < 10:
            block_s = max(span_ns / 1e9 / 10, 1e-3)
            warnings.append(
                "the schedule is shorter than 100x the mean E2E latency, so the time windows "
                "are shorter than 10x E2E and the intervals may be too narrow; replay a longer "
                "trace"
            )
    k = max(1, math.ceil((span_ns + 1) / (block_s * 1e9)))
    block_ns = max(1, int(block_s * 1e9))
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, k, size=(resamples, k))
    counts = np.zeros((resamples, k), dtype=np.int32)
    np.add.at(counts, (np.repeat(np.arange(resamples), k), picks.ravel()), 1)
    deltas: list[MetricDelta] = []
    draws_by: dict[tuple[str, float], dict[str, NDArray[np.float64]]] = {}
    points: dict[tuple[str, float], dict[str, float | None]] = {}
    derived = {
        arm: [[(r, request_metrics(r)) for r in measured(rs)] for _, rs in runs_]
        for arm, runs_ in (("a", baseline), ("b", candidate))
    }
    for metric, qq in sorted(all_rules):
        arm_blocks: dict[str, _Blocks] = {
            arm: [_blocks(ok, metric, block_ns, k) for ok in derived[arm]] for arm in ("a", "b")
        }
        pooled = {
            a: np.concatenate([x for run in bl for x in run]) if bl else np.empty(0)
            for a, bl in arm_blocks.items()
        }
        pa, pb = _q(pooled["a"], qq), _q(pooled["b"], qq)
        da = _boot_quantiles(arm_blocks["a"], counts, qq)
        db = _boot_quantiles(arm_blocks["b"], counts, qq)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio_draws = db / da
        draws_by[(metric, qq)] = {"a": da, "b": db, "d": db - da, "r": ratio_draws}
        points[(metric, qq)] = {
            "a": pa,
            "b": pb,
            "d": None if pa is None or pb is None else pb - pa,
            "r": None if pa is None or pb is None or pa == 0 else pb / pa,
        }
        if metric in metrics and qq == q:
            deltas.append(
                MetricDelta(
                    metric=metric,
                    quantile=quantile_label(qq),
                    n_baseline=int(pooled["a"].size),
                    n_candidate=int(pooled["b"].size),
                    baseline=_interval(pa, da, level),
                    candidate=_interval(pb, db, level),
                    delta=_interval(points[(metric, qq)]["d"], db - da, level),
                    ratio=_interval(points[(metric, qq)]["r"], ratio_draws, level),
                    baseline_runs=[_q(np.concatenate(run), qq) for run in arm_blocks["a"]],
                    candidate_runs=[_q(np.concatenate(run), qq) for run in arm_blocks["b"]],
                )
            )
    results = [_decide(r, draws_by[(r.metric, r.q)], points[(r.metric, r.q)], level) for r in rules]
    if reasons:
        decision: Decision = "INVALID"
    elif any(r.decision == "FAIL" for r in results):
        decision = "FAIL"
    elif any(r.decision == "INCONCLUSIVE" for r in results):
        decision = "INCONCLUSIVE"
        reasons.extend(r.message for r in results if r.decision == "INCONCLUSIVE")
        reasons.append("the interval straddles the limit: add repeats or replay a longer trace")
    else:
        decision = "PASS"
    return LoadComparison(
        baseline_runs=[s.run_id for s, _ in baseline],
        candidate_runs=[s.run_id for s, _ in candidate],
        method="paired block bootstrap over schedule time windows, stratified by run; "
        "percentile intervals",
        level=level,
        resamples=resamples,
        seed=seed,
        block_s=block_s,
        blocks=k,
        deltas=deltas,
        rules=results,
        decision=decision,
        reasons=reasons,
        warnings=warnings,
    )


def _decide(
    rule: GateRule,
    draws: dict[str, NDArray[np.float64]],
    points: dict[str, float | None],
    level: float,
) -> RuleResult:
    key = "b" if rule.kind == "max_ms" else "r"
    iv = _interval(points[key], draws[key], level)
    unit = "ms" if rule.kind == "max_ms" else "x baseline"
    what = f"candidate {rule.metric} {quantile_label(rule.q)}" + (
        "" if rule.kind == "max_ms" else " / baseline"
    )
    if iv.value is None or iv.lower is None or iv.upper is None:
        return RuleResult(
            rule=rule.text(),
            decision="INCONCLUSIVE",
            interval=iv,
            message=f"{what}: not enough data to estimate it",
        )
    span = f"{iv.value:.4g} {unit} ({level:.0%} CI {iv.lower:.4g} to {iv.upper:.4g})"
    if iv.upper <= rule.limit:
        dec: Literal["PASS", "FAIL", "INCONCLUSIVE"] = "PASS"
        msg = f"{what} = {span}: within the limit {rule.limit:g}"
    elif iv.lower > rule.limit:
        dec = "FAIL"
        msg = f"{what} = {span}: above the limit {rule.limit:g}"
    else:
        dec = "INCONCLUSIVE"
        msg = f"{what} = {span}: the interval contains the limit {rule.limit:g}"
    return RuleResult(rule=rule.text(), decision=dec, interval=iv, message=msg)
