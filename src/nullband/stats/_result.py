"""Result types shared by the statistics: intervals and "cannot compute" values.

An interval always carries its method, confidence level and n; a random one also carries
its seed and resample count. When a value cannot be computed it is ``None`` with a
``reason`` in words, never NaN.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

SeedLike = int | np.random.Generator | None
"""A seed (int), a ready ``numpy.random.Generator``, or None (means seed 0: no hidden state)."""


class Interval(BaseModel):
    """A confidence interval, or the reason it could not be computed."""

    model_config = ConfigDict(frozen=True)

    lo: float | None = Field(description="Lower limit; null when it cannot be computed.")
    hi: float | None = Field(description="Upper limit; null when it cannot be computed.")
    level: float = Field(description="Confidence level, e.g. 0.95.")
    method: str = Field(description="How it was computed, e.g. 'wilson', 'bootstrap-percentile'.")
    n: int = Field(description="Number of units (cases, or clusters for a cluster bootstrap).")
    seed: int | None = Field(default=None, description="Seed of a random method; null otherwise.")
    resamples: int | None = Field(default=None, description="Bootstrap resamples, when used.")
    reason: str | None = Field(
        default=None, description="Why the limits are null, or a note on how they were made."
    )

    @property
    def available(self) -> bool:
        """True when both limits exist."""
        return self.lo is not None and self.hi is not None

    def as_list(self) -> list[float] | None:
        """``[lo, hi]`` or None when unavailable."""
        if self.lo is None or self.hi is None:
            return None
        return [self.lo, self.hi]

    @classmethod
    def unavailable(
        cls, reason: str, *, level: float, method: str, n: int, seed: int | None = None
    ) -> Interval:
        """An interval that cannot be computed, saying why."""
        return cls(lo=None, hi=None, level=level, method=method, n=n, seed=seed, reason=reason)


def finite_or_none(x: float) -> float | None:
    """``x`` as a float, or None when it is NaN or infinite."""
    xf = float(x)
    return xf if math.isfinite(xf) else None


def make_rng(seed: SeedLike) -> tuple[np.random.Generator, int | None]:
    """A Generator and the integer seed to store with the result.

    A Generator passed in is used as is; its seed is recovered from its SeedSequence when
    it was made from an int (``numpy.random.default_rng(7)``), else stored as None.
    """
    if isinstance(seed, np.random.Generator):
        seq = getattr(seed.bit_generator, "seed_seq", None)
        entropy = getattr(seq, "entropy", None)
        return seed, int(entropy) if isinstance(entropy, int) else None
    s = 0 if seed is None else int(seed)
    return np.random.default_rng(s), s


def check_level(confidence: float) -> None:
    """Raise StatsError unless 0 < confidence < 1."""
    from nullband.errors import StatsError

    if not 0.0 < confidence < 1.0:
        raise StatsError(
            f"confidence must be between 0 and 1 (exclusive), got {confidence}",
            hint="use e.g. 0.95 for a 95% interval",
        )
