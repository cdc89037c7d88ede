"""Retry policy for model calls: which failures are retried, and how long to wait.

Retried: HTTP 429, 408, 409 and 5xx, timeouts, connection errors and malformed bodies.
Not retried: other 4xx (the request itself is wrong; repeating it cannot help). A retry
always repeats the same request to the same target: it never changes model or provider.

Backoff is exponential with jitter, drawn from a seeded :class:`random.Random` so a run's
waits are reproducible from ``config.seed``. A server's ``Retry-After`` is honoured: the
wait is at least what the server asked for.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from nullband.config.models import RetryConfig
from nullband.records import ErrorClass

RETRYABLE_CLASSES: frozenset[ErrorClass] = frozenset(
    {"rate_limit", "server", "timeout", "connection", "malformed"}
)
"""Error classes that a call retries (the ``client`` class is retried only for 408/409)."""

_MAX_RETRY_AFTER_S = 600.0
"""A Retry-After above ten minutes is treated as ten minutes (a misconfigured server)."""


def classify_status(status: int) -> tuple[ErrorClass, bool]:
    """The error class of an HTTP status and whether it is retried.

    Example:
        >>> classify_status(429)
        ('rate_limit', True)
        >>> classify_status(404)
        ('client', False)
    """
    if status == 429:
        return "rate_limit", True
    if status == 408:
        return "timeout", True
    if status == 409:
        return "client", True
    if status >= 500:
        return "server", True
    return "client", False


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date).

    Returns None when the header is absent or unreadable; negative waits become 0.
    """
    if not value:
        return None
    value = value.strip()
    try:
        secs = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        secs = (when - (now or datetime.now(UTC))).total_seconds()
    if secs != secs:  # NaN
        return None
    return min(max(0.0, secs), _MAX_RETRY_AFTER_S)


class Backoff:
    """Seeded exponential backoff with jitter.

    The n-th retry (n = 1 after the first failed attempt) waits
    ``min(max_delay, base * 2**(n-1))``, reduced by a random fraction of at most
    ``jitter`` (so concurrent callers spread out), and never less than the server's
    ``Retry-After``.

    Args:
        config: the run's retry settings.
        seed: seed of the jitter stream (the runner derives it from ``config.seed``).
    """

    def __init__(self, config: RetryConfig, seed: int = 0) -> None:
        self.config = config
        self.seed = seed
        # One stream per client; asyncio runs callers one at a time, so no lock is needed.
        self._rng = random.Random(seed)

    def delay(self, retry_n: int, retry_after_s: float | None = None) -> float:
        """Seconds to sleep before retry number ``retry_n`` (1-based)."""
        cfg = self.config
        raw = min(cfg.max_delay_s, cfg.base_delay_s * (2.0 ** max(0, retry_n - 1)))
        wait = raw * (1.0 - cfg.jitter * self._rng.random())
        if retry_after_s is not None:
            wait = max(wait, retry_after_s)
        return wait
