"""Seeded, order-independent random draws: faults, extra latency, gateway fallbacks.

Each draw is a hash of (seed, purpose, case key or request number, attempt), so a given
seed gives the same attempt of the same case the same fate however requests interleave.
"""

from __future__ import annotations

import hashlib
import math
from typing import Literal

from nullband.testserver.config import DelayDistribution, FaultConfig

# asyncio on Linux rounds sleep timeouts up to the next millisecond (epoll), so a sleep
# overshoots by 0-1 ms; waking 0.5 ms before a deadline centres the error on zero.
SLEEP_LEAD_S = 0.0005

FaultKind = Literal["429", "500", "503", "timeout", "reset", "malformed", "truncate"]

_ORDER: tuple[tuple[FaultKind, str], ...] = (
    ("429", "rate_429"),
    ("500", "rate_500"),
    ("503", "rate_503"),
    ("timeout", "rate_timeout"),
    ("reset", "rate_reset"),
    ("malformed", "rate_malformed"),
    ("truncate", "rate_truncate"),
)


def unit(seed: int, purpose: str, key: str, attempt: int) -> float:
    """A uniform number in [0, 1) determined by its arguments."""
    digest = hashlib.blake2b(f"{seed}|{purpose}|{key}|{attempt}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 18446744073709551616.0


class FaultPicker:
    """Chooses the fault (or none) of each request from the configured rates."""

    def __init__(self, config: FaultConfig) -> None:
        self.seed = config.seed
        self.enabled = config.total() > 0
        edges: list[tuple[float, FaultKind]] = []
        acc = 0.0
        for kind, attr in _ORDER:
            rate = float(getattr(config, attr))
            if rate > 0:
                acc += rate
                edges.append((acc, kind))
        self._edges = edges

    def pick(self, key: str, attempt: int) -> FaultKind | None:
        """The fault for attempt ``attempt`` of ``key`` (a case key or request number)."""
        if not self.enabled:
            return None
        u = unit(self.seed, "fault", key, attempt)
        for edge, kind in self._edges:
            if u < edge:
                return kind
        return None


def draw_delay(dist: DelayDistribution, u: float, v: float) -> float:
    """A delay in seconds from ``dist``, given two independent uniforms in [0, 1)."""
    if dist.kind == "uniform":
        return dist.low + (dist.high - dist.low) * u
    if dist.kind == "exponential":
        return -dist.mean * math.log(1.0 - u)
    # Box-Muller for the normal families; 1-u keeps the log argument in (0, 1].
    z = math.sqrt(-2.0 * math.log(1.0 - u)) * math.cos(2.0 * math.pi * v)
    if dist.kind == "lognormal":
        return dist.median * math.exp(dist.sigma * z) if dist.median > 0 else 0.0
    return max(0.0, dist.mean + dist.sd * z)
