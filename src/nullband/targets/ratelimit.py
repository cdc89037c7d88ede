"""Requests-per-minute limiting: a token bucket shared by every call to one target."""

from __future__ import annotations

import asyncio
import time


class RateLimiter:
    """Admit at most ``rpm`` requests per minute, smoothly (a token bucket).

    The bucket holds up to ``burst`` tokens (default: one second's worth, at least 1)
    and refills at ``rpm / 60`` tokens per second. :meth:`acquire` waits until a token is
    free. Callers are served in arrival order because each waiter books its slot before
    sleeping.

    Args:
        rpm: requests per minute (> 0).
        burst: most requests admitted back to back after an idle spell.
    """

    def __init__(self, rpm: float, burst: float | None = None) -> None:
        if rpm <= 0:
            raise ValueError(f"rpm must be > 0, got {rpm}")
        self.rate = rpm / 60.0
        self.burst = max(1.0, burst if burst is not None else self.rate)
        self._tokens = self.burst
        self._last = time.monotonic()

    async def acquire(self) -> None:
        """Wait until one request may start."""
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        # Book the token now (possibly going negative) so later callers queue behind us;
        # single-threaded asyncio makes this read-modify-write safe without a lock.
        self._tokens -= 1.0
        if self._tokens < 0:
            await asyncio.sleep(-self._tokens / self.rate)
