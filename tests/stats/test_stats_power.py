"""Power, MDE and sample size against Connor's closed form and statsmodels."""

from __future__ import annotations

import math

import pytest
from scipy.optimize import brentq
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import samplesize_proportions_2indep_onetail

from nullband.stats import (
    connor_mde,
    connor_power,
    connor_sample_size,
    discordance_from_marginals,
    miller_mde,
    miller_sample_size,
    unpaired_mde,
    unpaired_sample_size,
)

Z, ZB = 1.959963984540054, 0.8416212335729143


def connor_n(delta: float, psi: float) -> float:
    """Connor (1987) written out by hand: the oracle."""
    return (Z * math.sqrt(psi) + ZB * math.sqrt(psi - delta**2)) ** 2 / delta**2


@pytest.mark.parametrize(("n", "psi"), [(840, 116 / 840), (12, 0.5), (200, 0.05), (5000, 0.2)])
def test_mde_within_1e3_of_connor(n: int, psi: float) -> None:
    r = connor_mde(psi, n)
    if r.value is None:
        assert r.reason is not None
        return
    # The delta at which Connor's N equals n, solved on the hand-written formula. Our MDE solves
    # the full two-tailed power = 0.8 instead; the far tail adds < 1e-6, far inside the issue's
    # 1e-3 tolerance.
    oracle = brentq(lambda d: connor_n(d, psi) - n, 1e-9, psi * (1 - 1e-12))
    assert abs(r.value - oracle) < 1e-3
    assert r.value == pytest.approx(oracle, rel=1e-4)
    assert connor_power(r.value, psi, n) == pytest.approx(0.8, abs=1e-9)
    approx = (Z + ZB) * math.sqrt(psi / n)
    assert abs(r.value - approx) < 1e-3 or n < 100


def test_field_notes_suite_mde_is_3_6_points_not_4_5() -> None:
    r = connor_mde(116 / 840, 840)
    assert r.value is not None
    assert round(r.value * 100, 1) == 3.6
    n2 = connor_sample_size(0.02, 116 / 840).value
    n1 = connor_sample_size(0.01, 116 / 840).value
    assert n2 is not None
    assert n1 is not None
    assert 2650 < n2 < 2750  # "about 2,700 cases would detect 2 points"
    assert 10_700 < n1 < 10_900  # the post's "over 9,000" understates it


def test_sample_size_matches_hand_formula() -> None:
    for d, psi in [(0.02, 0.138), (0.05, 0.2), (0.1, 0.1)]:
        r = connor_sample_size(d, psi)
        assert r.value == pytest.approx(connor_n(d, psi), rel=1e-12)


def test_impossible_requests_say_why() -> None:
    assert connor_mde(0.0, 840).reason is not None
    assert connor_mde(0.01, 5).value is None
    assert connor_sample_size(0.3, 0.1).reason is not None
    assert miller_mde(0.0, 100).value is None


def test_miller_matches_statsmodels_normal_power() -> None:
    sd = 0.25
    n = 400
    effect = NormalIndPower().solve_power(nobs1=n, alpha=0.05, power=0.8, ratio=0)
    r = miller_mde(sd**2, n)
    # statsmodels counts the far tail's power too (adds ~6e-6 relative); we use the closed form.
    assert r.value == pytest.approx(effect * sd, rel=1e-4)
    nn = miller_sample_size(r.value, sd**2)
    assert nn.value == pytest.approx(n, rel=1e-9)


def test_unpaired_matches_statsmodels() -> None:
    for p1, p2 in [(0.713, 0.733), (0.5, 0.55), (0.9, 0.85)]:
        ref = samplesize_proportions_2indep_onetail(
            p2 - p1, p1, 0.8, alpha=0.05, alternative="two-sided"
        )
        r = unpaired_sample_size(p1, p2)
        assert r.value == pytest.approx(ref, rel=1e-9)
    mde = unpaired_mde(0.713, 840)
    assert mde.value is not None
    assert unpaired_sample_size(0.713, 0.713 + mde.value).value == pytest.approx(840, rel=1e-6)


def test_discordance_from_marginals_independent_case() -> None:
    # phi = 0: psi = pA qB + pB qA
    assert discordance_from_marginals(0.7, 0.8, 0.0) == pytest.approx(0.7 * 0.2 + 0.8 * 0.3)
