"""Did the client keep up? A run whose client fell behind is INVALID (exit code 4).

Hard checks (any failure makes the run INVALID):
* dispatch lag (actual send minus planned send): p99 at most 5 ms;
* late sends: at most 1 % of requests sent more than 1 ms after their planned time;
* arrivals: every planned request was sent, and the achieved arrival rate is within 1 %
  of the offered one;
* event-loop lag (overshoot of a 10 ms probe): p99 at most 5 ms;
* the optional ``max_inflight`` safety cap never bound (else the run was closed-loop).

Soft warnings are reported without invalidating: a large gap between TTFT measured from
the planned and the actual send, length mismatches, errors.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, Field

from nullband.load.config import ValidityThresholds

Verdict = Literal["VALID", "INVALID"]


class Check(BaseModel):
    """One validity check."""

    name: str = Field(description="Short name, e.g. 'dispatch_lag_p99'.")
    value: float | None = Field(description="What was measured (null when not measurable).")
    threshold: float = Field(description="The limit it is held to.")
    unit: str = Field(description="Unit of value and threshold.")
    passed: bool = Field(description="True when the check holds.")
    message: str = Field(description="The check in words, with the values.")


class ValidityReport(BaseModel):
    """The validity block of a run summary."""

    verdict: Verdict = Field(description="INVALID when any hard check failed.")
    checks: list[Check] = Field(description="Hard checks.")
    warnings: list[str] = Field(default_factory=list, description="Soft findings.")
    reasons: list[str] = Field(default_factory=list, description="Why the run is INVALID.")
    suggestion: str | None = Field(default=None, description="What to do about it.")


def _p99(x: NDArray[np.float64]) -> float | None:
    return float(np.quantile(x, 0.99)) if x.size else None


def assess(
    *,
    planned: int,
    sent_offsets_s: NDArray[np.float64],
    planned_offsets_s: NDArray[np.float64],
    dispatch_lag_ms: NDArray[np.float64],
    loop_lag_ms: NDArray[np.float64],
    procs: int,
    cap_hit: bool,
    thresholds: ValidityThresholds,
    cpu_share: float | None = None,
    warnings: list[str] | None = None,
) -> ValidityReport:
    """Judge the client's fidelity from what it measured."""
    th = thresholds
    checks: list[Check] = []
    p99 = _p99(dispatch_lag_ms)
    checks.append(
        Check(
            name="dispatch_lag_p99",
            value=p99,
            threshold=th.dispatch_lag_p99_ms,
            unit="ms",
            passed=p99 is not None and p99 <= th.dispatch_lag_p99_ms,
            message=f"dispatch lag p99 {p99 if p99 is None else round(p99, 3)} ms "
            f"(limit {th.dispatch_lag_p99_ms} ms)",
        )
    )
    late = float(np.mean(dispatch_lag_ms > th.late_ms)) if dispatch_lag_ms.size else None
    checks.append(
        Check(
            name="late_fraction",
            value=late,
            threshold=th.late_fraction,
            unit="fraction",
            passed=late is not None and late <= th.late_fraction,
            message=f"{'n/a' if late is None else f'{late:.2%}'} of requests sent more than "
            f"{th.late_ms} ms late (limit {th.late_fraction:.0%})",
        )
    )
    n_sent = int(sent_offsets_s.size)
    checks.append(
        Check(
            name="all_sent",
            value=float(n_sent),
            threshold=float(planned),
            unit="requests",
            passed=n_sent == planned,
            message=f"{n_sent} of {planned} planned requests sent",
        )
    )
    rate_err: float | None = None
    if n_sent >= 2 and planned_offsets_s.size >= 2:
        span_p = float(planned_offsets_s.max() - planned_offsets_s.min())
        span_a = float(sent_offsets_s.max() - sent_offsets_s.min())
        if span_p > 0 and span_a > 0:
            offered = (planned_offsets_s.size - 1) / span_p
            achieved = (n_sent - 1) / span_a
            rate_err = abs(achieved / offered - 1.0)
    checks.append(
        Check(
            name="arrival_rate",
            value=rate_err,
            threshold=th.arrival_rate_tolerance,
            unit="relative error",
            # a schedule with no time span (one burst) has no rate to miss
            passed=rate_err is None or rate_err <= th.arrival_rate_tolerance,
            message="achieved vs offered arrival rate "
            + ("n/a (no span)" if rate_err is None else f"off by {rate_err:.3%}")
            + f" (limit {th.arrival_rate_tolerance:.0%})",
        )
    )
    lp99 = _p99(loop_lag_ms)
    checks.append(
        Check(
            name="loop_lag_p99",
            value=lp99,
            threshold=th.loop_lag_p99_ms,
            unit="ms",
            passed=lp99 is None or lp99 <= th.loop_lag_p99_ms,
            message=f"event-loop lag p99 {lp99 if lp99 is None else round(lp99, 3)} ms "
            f"(limit {th.loop_lag_p99_ms} ms)",
        )
    )
    checks.append(
        Check(
            name="inflight_cap",
            value=1.0 if cap_hit else 0.0,
            threshold=0.0,
            unit="bound",
            passed=not cap_hit,
            message="the max_inflight cap bound (the run became closed-loop)"
            if cap_hit
            else "the max_inflight cap never bound",
        )
    )
    failed = [c for c in checks if not c.passed]
    reasons = [c.message for c in failed]
    suggestion = None
    if failed:
        more = max(procs + 1, math.ceil(procs * 2))
        suggestion = (
            f"the client fell behind, so its latency figures are client artifacts, not server "
            f"latency. Rerun with --procs {more} (shards the schedule across processes), "
            "lower the rate, or run the client on a less loaded machine"
        )
        if cpu_share is not None:
            suggestion += f" (client CPU was {cpu_share:.0%} of wall time per process)"
        if cap_hit:
            suggestion += "; raise or remove max_inflight"
    return ValidityReport(
        verdict="INVALID" if failed else "VALID",
        checks=checks,
        warnings=list(warnings or []),
        reasons=reasons,
        suggestion=suggestion,
    )
