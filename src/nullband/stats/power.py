"""Power, minimum detectable effect and sample size (two-sided level, default 80% power).

* Paired binary: Connor (1987), N = [z sqrt(psi) + z_b sqrt(psi - d^2)]^2 / d^2, with psi the
  discordance rate (share of cases where exactly one side passes).
* Any score (Miller 2024): N = (z + z_b)^2 V / d^2, V the variance of the per-case difference.
* Unpaired, per arm: N = [z sqrt(2 p q) + z_b sqrt(p1 q1 + p2 q2)]^2 / d^2.

Each returns None with a reason (``PowerResult``) where the answer does not exist.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from scipy import optimize as _opt


@dataclass(frozen=True)
class PowerResult:
    """A sample size, MDE or power, or the reason it does not exist."""

    value: float | None
    """The number (cases, effect as a fraction, or power)."""
    method: str
    """Formula used: 'connor', 'miller', 'unpaired'."""
    reason: str | None = None
    """Why value is None."""


_N = NormalDist()  # math.erf based: ~50x cheaper per scalar call than scipy.stats.norm


def _z(confidence: float) -> float:
    return _N.inv_cdf(0.5 + confidence / 2)


def connor_sample_size(
    delta: float, discordance: float, *, confidence: float = 0.95, power: float = 0.8
) -> PowerResult:
    """Paired cases needed to detect ``delta`` (a fraction) given discordance psi."""
    d, psi = abs(delta), discordance
    if d <= 0:
        return PowerResult(None, "connor", "the effect must be non-zero")
    if not 0 < psi <= 1:
        return PowerResult(None, "connor", f"discordance must be in (0, 1], got {psi}")
    if d > psi:
        return PowerResult(
            None, "connor", f"an effect of {d:.4f} cannot exceed the discordance {psi:.4f}"
        )
    za, zb = _z(confidence), _N.inv_cdf(power)
    n = (za * math.sqrt(psi) + zb * math.sqrt(psi - d * d)) ** 2 / (d * d)
    return PowerResult(n, "connor")


def connor_power(delta: float, discordance: float, n: float, *, confidence: float = 0.95) -> float:
    """Power of the paired test at effect ``delta``, discordance psi and n cases."""
    d, psi = abs(delta), discordance
    if psi <= 0 or n <= 0:
        return 0.0
    if d >= psi:
        return 1.0
    za = _z(confidence)
    s = math.sqrt(psi - d * d)
    return _N.cdf((d * math.sqrt(n) - za * math.sqrt(psi)) / s) + _N.cdf(
        (-d * math.sqrt(n) - za * math.sqrt(psi)) / s
    )


def connor_mde(
    discordance: float, n: float, *, confidence: float = 0.95, power: float = 0.8
) -> PowerResult:
    """Smallest effect in (0, psi] detected with ``power`` by n paired cases."""
    psi = discordance
    if n <= 0:
        return PowerResult(None, "connor", "no cases")
    if psi <= 0:
        return PowerResult(
            None,
            "connor",
            "no discordant pairs: the discordance rate is 0, so the MDE cannot be estimated; "
            "give an expected discordance to `nullband plan`",
        )
    if connor_power(psi * (1 - 1e-12), psi, n, confidence=confidence) < power:
        return PowerResult(
            None,
            "connor",
            f"no effect up to the discordance {psi:.4f} reaches {power:.0%} power with {n:g} cases",
        )
    root = _opt.brentq(
        lambda d: connor_power(d, psi, n, confidence=confidence) - power,
        1e-12,
        psi * (1 - 1e-12),
        xtol=1e-12,
    )
    return PowerResult(float(root), "connor")


def miller_sample_size(
    delta: float, variance: float, *, confidence: float = 0.95, power: float = 0.8
) -> PowerResult:
    """Cases needed for a paired difference with per-case variance V (Miller 2024, Eq. 9)."""
    if delta == 0:
        return PowerResult(None, "miller", "the effect must be non-zero")
    if variance <= 0:
        return PowerResult(None, "miller", "the paired differences have zero variance")
    za, zb = _z(confidence), _N.inv_cdf(power)
    return PowerResult((za + zb) ** 2 * variance / delta**2, "miller")


def miller_mde(
    variance: float, n: float, *, confidence: float = 0.95, power: float = 0.8
) -> PowerResult:
    """MDE = (z + z_b) sqrt(V / n) for a paired difference with per-case variance V."""
    if n <= 0:
        return PowerResult(None, "miller", "no cases")
    if variance <= 0:
        return PowerResult(
            None, "miller", "the paired differences have zero variance: the MDE cannot be estimated"
        )
    za, zb = _z(confidence), _N.inv_cdf(power)
    return PowerResult((za + zb) * math.sqrt(variance / n), "miller")


def unpaired_sample_size(
    p_baseline: float, p_candidate: float, *, confidence: float = 0.95, power: float = 0.8
) -> PowerResult:
    """Cases per arm for two independent samples (normal approximation, pooled null)."""
    d = p_candidate - p_baseline
    if d == 0:
        return PowerResult(None, "unpaired", "the two rates are equal")
    if not (0 <= p_baseline <= 1 and 0 <= p_candidate <= 1):
        return PowerResult(None, "unpaired", "rates must be in [0, 1]")
    pbar = (p_baseline + p_candidate) / 2
    za, zb = _z(confidence), _N.inv_cdf(power)
    var1 = p_baseline * (1 - p_baseline) + p_candidate * (1 - p_candidate)
    n = (za * math.sqrt(2 * pbar * (1 - pbar)) + zb * math.sqrt(var1)) ** 2 / d**2
    return PowerResult(n, "unpaired")


def unpaired_mde(
    p_baseline: float, n_per_arm: float, *, confidence: float = 0.95, power: float = 0.8
) -> PowerResult:
    """Smallest improvement over ``p_baseline`` two independent arms of n detect."""
    if n_per_arm <= 0:
        return PowerResult(None, "unpaired", "no cases")
    hi = 1.0 - p_baseline
    if hi <= 0:
        return PowerResult(None, "unpaired", "the baseline rate is already 1")

    def gap(d: float) -> float:
        r = unpaired_sample_size(p_baseline, p_baseline + d, confidence=confidence, power=power)
        return (r.value if r.value is not None else math.inf) - n_per_arm

    if gap(hi) > 0:
        return PowerResult(None, "unpaired", "no improvement up to a rate of 1 is detectable")
    return PowerResult(float(_opt.brentq(gap, 1e-9, hi, xtol=1e-12)), "unpaired")


def discordance_from_marginals(p_baseline: float, p_candidate: float, phi: float) -> float:
    """psi = pA + pB - 2 pA pB - 2 phi sqrt(pA qA pB qB): discordance from rates and phi."""
    pa, pb = p_baseline, p_candidate
    return pa + pb - 2 * pa * pb - 2 * phi * math.sqrt(pa * (1 - pa) * pb * (1 - pb))
