"""Point estimates with a seeded bootstrap interval over items.

Judge statistics (flip rates, position consistency, kappa, alpha) are computed per item
and the items are what varies between one audit set and the next, so intervals come from
resampling items with replacement (a cluster bootstrap when an item has several repeats).
Every :class:`Estimate` records its method, level, resamples and seed; one that cannot
be computed says why in ``status`` and ``reason`` rather than carrying a 0 or a NaN.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

EstimateStatus = Literal["ok", "not_enough_data", "undefined"]


class Estimate(BaseModel):
    """One statistic with its interval."""

    value: float | None = Field(description="The point estimate; null unless status is 'ok'.")
    lo: float | None = Field(default=None, description="Lower interval bound, when computed.")
    hi: float | None = Field(default=None, description="Upper interval bound, when computed.")
    n: int = Field(description="Number of items the estimate rests on.")
    level: float = Field(default=0.95, description="Confidence level of the interval.")
    method: str = Field(
        default="percentile bootstrap over items",
        description="How the interval was computed.",
    )
    resamples: int | None = Field(default=None, description="Bootstrap resamples, if used.")
    seed: int | None = Field(default=None, description="Seed of the bootstrap, if used.")
    undefined_resamples: int = Field(
        default=0,
        description="Resamples on which the statistic was undefined (left out of the interval).",
    )
    status: EstimateStatus = Field(
        default="ok", description="'ok', or why there is no value: too few items or undefined."
    )
    reason: str | None = Field(default=None, description="Why there is no value, in words.")

    @property
    def ok(self) -> bool:
        """True when a point value exists."""
        return self.status == "ok" and self.value is not None

    def describe(self, digits: int = 3) -> str:
        """``0.812 [0.75, 0.87] n=40`` or the reason there is no value."""
        if not self.ok or self.value is None:
            return f"n/a ({self.reason or self.status})"
        if self.lo is None or self.hi is None:
            return f"{self.value:.{digits}f} (no interval) n={self.n}"
        return f"{self.value:.{digits}f} [{self.lo:.{digits}f}, {self.hi:.{digits}f}] n={self.n}"


def missing(n: int, reason: str, status: EstimateStatus = "not_enough_data") -> Estimate:
    """An estimate that has no value, with the reason."""
    return Estimate(value=None, n=n, status=status, reason=reason, method="none")


@dataclass(frozen=True, slots=True)
class Boot:
    """Bootstrap settings: resamples, seed (stored with every result) and level."""

    resamples: int = 2000
    seed: int = 0
    level: float = 0.95


DEFAULT_BOOT = Boot()


def bootstrap_items(
    stat: Callable[[np.ndarray], float | None],
    n_items: int,
    boot: Boot = DEFAULT_BOOT,
    *,
    min_items: int = 2,
    what: str = "statistic",
) -> Estimate:
    """Point estimate and percentile bootstrap interval of ``stat`` over items.

    Args:
        stat: maps an array of item indices (with repeats) to the statistic, or None
            when the statistic is undefined on that selection.
        n_items: number of items.
        boot: resamples, the seed of the ``numpy.random.Generator`` (stored in the
            result) and the confidence level.
        min_items: fewer items than this gives a ``not_enough_data`` estimate.
        what: name of the statistic, for the reason text.

    Returns:
        An :class:`Estimate`. Resamples on which ``stat`` is undefined are dropped and
        counted; when more than half are undefined there is no interval.
    """
    if n_items < min_items:
        return missing(n_items, f"{what}: {n_items} item(s), need at least {min_items}")
    resamples, seed, level = boot.resamples, boot.seed, boot.level
    full = np.arange(n_items)
    point = stat(full)
    if point is None:
        return missing(n_items, f"{what} is undefined on these items", status="undefined")
    rng = np.random.default_rng(seed)
    draws: list[float] = []
    undefined = 0
    for _ in range(resamples):
        v = stat(rng.integers(0, n_items, n_items))
        if v is None:
            undefined += 1
        else:
            draws.append(v)
    alpha = (1.0 - level) / 2.0
    if len(draws) < resamples / 2:
        return Estimate(
            value=point,
            n=n_items,
            level=level,
            resamples=resamples,
            seed=seed,
            undefined_resamples=undefined,
            reason=f"{what} undefined on {undefined} of {resamples} resamples: no interval",
        )
    lo, hi = np.quantile(np.asarray(draws), [alpha, 1.0 - alpha])
    return Estimate(
        value=point,
        lo=float(lo),
        hi=float(hi),
        n=n_items,
        level=level,
        resamples=resamples,
        seed=seed,
        undefined_resamples=undefined,
    )
