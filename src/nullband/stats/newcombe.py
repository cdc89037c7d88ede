"""Newcombe's square-and-add interval for a paired difference of proportions (method 10).

Used where resampling degenerates: no discordant pairs, or one discordant cell empty,
where the bootstrap excludes 0 far too easily.
"""

from __future__ import annotations

import math

from nullband.stats._result import Interval, check_level
from nullband.stats.proportions import wilson


def newcombe_paired(
    both: int, baseline_only: int, candidate_only: int, neither: int, confidence: float = 0.95
) -> Interval:
    """Interval for p_candidate - p_baseline from the 2x2 paired table.

    Args:
        both: n11, both passed.
        baseline_only: n10.
        candidate_only: n01.
        neither: n00.

    The correlation phi uses AD - BC reduced by n/2 when it exceeds n/2 and set to 0 when
    it lies in [0, n/2] (Newcombe 1998), and 0 when a margin is empty.
    """
    check_level(confidence)
    a, b, c, d = both, baseline_only, candidate_only, neither
    n = a + b + c + d
    if n == 0:
        return Interval.unavailable("no cases", level=confidence, method="newcombe", n=0)
    p_base = (a + b) / n
    p_cand = (a + c) / n
    wb = wilson(a + b, n, confidence)
    wc = wilson(a + c, n, confidence)
    assert wb.lo is not None
    assert wb.hi is not None
    assert wc.lo is not None
    assert wc.hi is not None
    l_b, u_b, l_c, u_c = wb.lo, wb.hi, wc.lo, wc.hi
    ad_bc = a * d - b * c
    if ad_bc > n / 2:
        num = ad_bc - n / 2
    elif ad_bc >= 0:
        num = 0.0
    else:
        num = float(ad_bc)
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    phi = num / math.sqrt(margins) if margins > 0 else 0.0
    delta = p_cand - p_base
    dl_c, du_c = p_cand - l_c, u_c - p_cand
    dl_b, du_b = p_base - l_b, u_b - p_base
    lo = delta - math.sqrt(max(dl_c**2 + du_b**2 - 2 * phi * dl_c * du_b, 0.0))
    hi = delta + math.sqrt(max(du_c**2 + dl_b**2 - 2 * phi * du_c * dl_b, 0.0))
    return Interval(lo=max(-1.0, lo), hi=min(1.0, hi), level=confidence, method="newcombe", n=n)
