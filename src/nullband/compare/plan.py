"""Suite planning: cases needed for an effect, and the MDE of a suite size.

Paired numbers use Connor's formula and need the discordance (the share of cases where
exactly one side passes), given directly or estimated from a previous pair of runs.
Unpaired numbers (per arm) need only the baseline rate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, Field

from nullband.errors import UsageError
from nullband.records import ResultRow
from nullband.stats.power import (
    connor_mde,
    connor_sample_size,
    unpaired_mde,
    unpaired_sample_size,
)


class SampleSize(BaseModel):
    """Cases needed to detect one effect."""

    effect: float = Field(description="Effect as a fraction (0.02 = 2 points).")
    paired: int | None = Field(description="Paired cases (Connor), or null with a reason.")
    unpaired_per_arm: int | None = Field(description="Cases per arm for two independent samples.")
    reasons: list[str] = Field(default_factory=list, description="Why a value is null.")


class SuiteMDE(BaseModel):
    """The minimum detectable effect of one suite size."""

    cases: int = Field(description="Suite size.")
    paired: float | None = Field(description="Paired MDE (fraction), or null with a reason.")
    unpaired: float | None = Field(description="Unpaired MDE (fraction, improvement over base).")
    reasons: list[str] = Field(default_factory=list, description="Why a value is null.")


class PlanResult(BaseModel):
    """What `nullband plan` prints."""

    schema_version: int = Field(default=1, description="Schema version.")
    confidence: float = Field(description="Two-sided confidence level.")
    power: float = Field(description="Power.")
    baseline_rate: float | None = Field(description="Baseline pass rate used.")
    discordance: float | None = Field(description="Discordance used.")
    discordance_source: str = Field(description="'argument', 'previous runs' or 'none'.")
    previous_n: int | None = Field(default=None, description="Paired cases of the previous runs.")
    sample_sizes: list[SampleSize] = Field(default_factory=list, description="Per effect.")
    mdes: list[SuiteMDE] = Field(default_factory=list, description="Per suite size.")


def make_plan(
    *,
    baseline_rate: float | None = None,
    discordance: float | None = None,
    effects: Sequence[float] = (),
    cases: Sequence[int] = (),
    previous: tuple[Sequence[ResultRow], Sequence[ResultRow]] | None = None,
    metric: str = "pass",
    confidence: float = 0.95,
    power: float = 0.8,
) -> PlanResult:
    """Sample sizes and MDEs. See the module docstring.

    Raises:
        UsageError: out-of-range arguments, or nothing to compute.
    """
    if not 0 < confidence < 1 or not 0 < power < 1:
        raise UsageError("--confidence and --power must be between 0 and 1")
    for e in effects:
        if not 0 < e < 1:
            raise UsageError(f"--effect is a fraction: 2 points is 0.02 (got {e})")
    source = "argument" if discordance is not None else "none"
    prev_n = None
    if previous is not None:
        from nullband.compare.pairing import align

        al = align(previous[0], previous[1], metric=metric)
        if not (np.isin(al.a, (0.0, 1.0)).all() and np.isin(al.b, (0.0, 1.0)).all()):
            raise UsageError(
                f"metric {metric!r} of the previous runs is not 0/1 per case (continuous, or "
                "averaged over epochs); discordance needs a pass/fail metric",
                hint="give --discordance directly",
            )
        d = al.b - al.a
        prev_n = int(d.shape[0])
        if discordance is None:
            discordance = float(((al.a != al.b) & ((al.a == 0) | (al.a == 1))).mean())
            source = "previous runs"
        if baseline_rate is None:
            baseline_rate = float(al.a.mean())
    if discordance is not None and not 0 <= discordance <= 1:
        raise UsageError(f"--discordance must be in [0, 1], got {discordance}")
    if not effects and not cases:
        if prev_n:
            cases = [prev_n]
        else:
            raise UsageError("nothing to plan", hint="give --effect and/or --cases")
    sizes = []
    for e in effects:
        reasons: list[str] = []
        paired = None
        if discordance is None:
            reasons.append("paired: needs --discordance or a previous pair of runs")
        else:
            r = connor_sample_size(e, discordance, confidence=confidence, power=power)
            paired = math.ceil(r.value) if r.value is not None else None
            if r.reason:
                reasons.append(f"paired: {r.reason}")
        unpaired = None
        if baseline_rate is None:
            reasons.append("unpaired: needs --baseline-rate")
        else:
            u = unpaired_sample_size(
                baseline_rate, min(1.0, baseline_rate + e), confidence=confidence, power=power
            )
            unpaired = math.ceil(u.value) if u.value is not None else None
            if u.reason:
                reasons.append(f"unpaired: {u.reason}")
        sizes.append(
            SampleSize(effect=e, paired=paired, unpaired_per_arm=unpaired, reasons=reasons)
        )
    mdes = []
    for n in cases:
        reasons = []
        pm = um = None
        if discordance is None:
            reasons.append("paired: needs --discordance or a previous pair of runs")
        else:
            r = connor_mde(discordance, n, confidence=confidence, power=power)
            pm = r.value
            if r.reason:
                reasons.append(f"paired: {r.reason}")
        if baseline_rate is None:
            reasons.append("unpaired: needs --baseline-rate")
        else:
            u = unpaired_mde(baseline_rate, n, confidence=confidence, power=power)
            um = u.value
            if u.reason:
                reasons.append(f"unpaired: {u.reason}")
        mdes.append(SuiteMDE(cases=n, paired=pm, unpaired=um, reasons=reasons))
    return PlanResult(
        confidence=confidence,
        power=power,
        baseline_rate=baseline_rate,
        discordance=discordance,
        discordance_source=source,
        previous_n=prev_n,
        sample_sizes=sizes,
        mdes=mdes,
    )


def render_plan(p: PlanResult) -> str:
    """The plan as plain text."""
    out = [
        f"confidence {p.confidence:g}, power {p.power:g}; baseline rate "
        f"{'n/a' if p.baseline_rate is None else f'{p.baseline_rate:.3f}'}; discordance "
        f"{'n/a' if p.discordance is None else f'{p.discordance:.3f}'} ({p.discordance_source})"
    ]
    for s in p.sample_sizes:
        pa = f"{s.paired:,}" if s.paired is not None else "n/a"
        un = f"{s.unpaired_per_arm:,}" if s.unpaired_per_arm is not None else "n/a"
        out.append(
            f"detect {s.effect * 100:g} points: {pa} paired cases (Connor); {un} per arm unpaired"
        )
        out.extend(f"  note: {r}" for r in s.reasons)
    for m in p.mdes:
        pa = f"{m.paired * 100:.2f} points" if m.paired is not None else "n/a"
        un = f"{m.unpaired * 100:.2f} points" if m.unpaired is not None else "n/a"
        out.append(f"{m.cases:,} cases: MDE {pa} paired; {un} unpaired (80% power)")
        out.extend(f"  note: {r}" for r in m.reasons)
    return "\n".join(out) + "\n"
