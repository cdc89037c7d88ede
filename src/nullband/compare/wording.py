"""Numbers in words for gate reasons and reports ("2.1 points better, 95% CI [-0.4, +4.6]")."""

from __future__ import annotations

import math

from nullband.stats.paired import PairedSummary
from nullband.stats.power import connor_sample_size, miller_sample_size


def is_rate(s: PairedSummary) -> bool:
    """True when the means live in [0, 1], so differences read as points."""
    vals = [s.baseline_mean, s.candidate_mean]
    return all(v is not None and 0 <= v <= 1 for v in vals)


def pts(x: float, rate: bool = True, signed: bool = True) -> str:
    """0.0214 -> '+2.1' (points) or the raw value for non-rate metrics."""
    v = x * 100 if rate else x
    text = f"{v:+.1f}" if signed else f"{abs(v):.1f}"
    if rate:
        return text
    return f"{x:+.4g}" if signed else f"{abs(x):.4g}"


def unit(rate: bool) -> str:
    """'points' for rates, 'units' otherwise."""
    return "points" if rate else "units"


def ci_text(ci: list[float] | None, confidence: float, rate: bool) -> str:
    """'95% CI [-0.4, +4.6]' or a note that it is unavailable."""
    level = f"{confidence * 100:g}%"
    if ci is None:
        return f"{level} CI not computable"
    return f"{level} CI [{pts(ci[0], rate)}, {pts(ci[1], rate)}]"


def delta_phrase(s: PairedSummary) -> str:
    """'candidate is 2.1 points better, 95% CI [-0.4, +4.6]'."""
    rate = is_rate(s)
    if s.delta is None:
        return "the delta cannot be computed"
    if s.delta == 0:
        head = "candidate and baseline are level"
    else:
        way = "better" if s.delta > 0 else "worse"
        head = f"candidate is {pts(s.delta, rate, signed=False)} {unit(rate)} {way}"
    return f"{head}, {ci_text(s.delta_ci, s.confidence, rate)}"


def nice_effect(x: float) -> float:
    """Round an effect to one significant digit (0.0214 -> 0.02)."""
    if x <= 0:
        return 0.0
    digits = -math.floor(math.log10(x))
    return round(x, digits)


def round_cases(n: float) -> str:
    """2707 -> '2,700' (two significant figures)."""
    k = max(0, math.floor(math.log10(max(n, 1))) - 1)
    return f"{int(round(n, -k)):,}"


def cases_needed(s: PairedSummary, effect: float) -> float | None:
    """Paired cases needed to detect ``effect`` at 80% power, from this comparison's spread."""
    if effect <= 0:
        return None
    if s.kind == "binary" and s.discordance is not None and s.n > 0:
        # No discordant pair observed: plan with the rule-of-three upper bound 3/n.
        psi = s.discordance or min(1.0, 3.0 / s.n)
        r = connor_sample_size(effect, psi, confidence=s.confidence)
        return r.value
    if s.se is not None and s.se > 0 and s.n > 1:
        var = s.se * s.se * s.n
        return miller_sample_size(effect, var, confidence=s.confidence).value
    return None


def power_phrase(s: PairedSummary, effect: float | None) -> str:
    """'this suite detects 3.6 points at 80% power; about 2,700 cases would detect 2 points'."""
    rate = is_rate(s)
    parts = []
    if s.mde is not None:
        parts.append(
            f"this suite detects {pts(s.mde, rate, signed=False)} {unit(rate)} at 80% power"
        )
    elif "mde" in s.unavailable:
        parts.append(f"the detectable effect is unknown ({s.unavailable['mde']})")
    if effect:
        n = cases_needed(s, effect)
        if n is not None and n > s.n:
            eff = f"{effect * 100:g}" if rate else f"{effect:g}"
            assume = (
                " (assuming 3/n discordance, as none was observed)"
                if s.kind == "binary" and not s.discordance
                else ""
            )
            parts.append(f"about {round_cases(n)} cases would detect {eff} {unit(rate)}{assume}")
    return "; ".join(parts)
