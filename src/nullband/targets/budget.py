"""Spending caps shared by a run's calls and its judges.

A :class:`Budget` holds a USD cap and/or a token cap. Before a call starts it takes a
:class:`Reservation` (an estimate of its cost: the largest single call seen so far); the
call starts only while ``spent + reserved`` is below every cap. When the call ends the
reservation is settled with the real cost. Once a cap is reached no new call starts,
while calls already in flight finish and are charged. Each in-flight call can overshoot
its estimate by at most one call's cost, so the final spend is at most
``cap + concurrency x largest single-call cost``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from nullband.errors import NullbandError


class BudgetExceeded(NullbandError):
    """No new call may start: a budget cap was reached."""


@dataclass(slots=True)
class Reservation:
    """What one started call has booked against the budget until it settles."""

    usd: float
    tokens: int
    settled: bool = False


class Budget:
    """USD and token caps with reserve/settle accounting.

    Thread-safe (a lock guards the counters) so judges running in worker threads can
    share it with the async runner.

    Args:
        usd: cap in USD, or None for no USD cap.
        tokens: cap on input + output tokens, or None.
        spent_usd: spend already recorded (a resumed run starts from its stored spend).
        spent_tokens: tokens already recorded.

    Example:
        >>> b = Budget(usd=1.0)
        >>> r = b.reserve()
        >>> b.settle(r, usd=0.4, tokens=100)
        >>> b.spent_usd
        0.4
    """

    def __init__(
        self,
        usd: float | None = None,
        tokens: int | None = None,
        *,
        spent_usd: float = 0.0,
        spent_tokens: int = 0,
    ) -> None:
        self.cap_usd = usd
        self.cap_tokens = tokens
        self.spent_usd = spent_usd
        self.spent_tokens = spent_tokens
        self.reserved_usd = 0.0
        self.reserved_tokens = 0
        self.max_call_usd = 0.0
        self.max_call_tokens = 0
        self.refused = 0
        self._lock = threading.Lock()

    @property
    def limited(self) -> bool:
        """Whether any cap is set."""
        return self.cap_usd is not None or self.cap_tokens is not None

    def _over(self, usd: float, tokens: int) -> bool:
        if self.cap_usd is not None and usd >= self.cap_usd:
            return True
        return self.cap_tokens is not None and tokens >= self.cap_tokens

    @property
    def exhausted(self) -> bool:
        """True once settled spend has reached a cap (no call may start)."""
        return self._over(self.spent_usd, self.spent_tokens)

    def reserve(self) -> Reservation:
        """Book one call's estimated cost.

        Raises:
            BudgetExceeded: spend plus open reservations has reached a cap.
        """
        with self._lock:
            if self._over(
                self.spent_usd + self.reserved_usd, self.spent_tokens + self.reserved_tokens
            ):
                self.refused += 1
                raise BudgetExceeded(self.describe())
            res = Reservation(self.max_call_usd, self.max_call_tokens)
            self.reserved_usd += res.usd
            self.reserved_tokens += res.tokens
            return res

    def settle(self, reservation: Reservation, *, usd: float, tokens: int) -> None:
        """Replace a reservation by the call's real cost (idempotent per reservation)."""
        with self._lock:
            if reservation.settled:
                return
            reservation.settled = True
            self.reserved_usd -= reservation.usd
            self.reserved_tokens -= reservation.tokens
            self._add(usd, tokens)

    def release(self, reservation: Reservation) -> None:
        """Drop a reservation whose call never ran (costs nothing)."""
        self.settle(reservation, usd=0.0, tokens=0)

    def charge(self, *, usd: float, tokens: int) -> None:
        """Add spend that had no reservation (e.g. a judge call)."""
        with self._lock:
            self._add(usd, tokens)

    def _add(self, usd: float, tokens: int) -> None:
        self.spent_usd += usd
        self.spent_tokens += tokens
        self.max_call_usd = max(self.max_call_usd, usd)
        self.max_call_tokens = max(self.max_call_tokens, tokens)

    def describe(self) -> str:
        """The budget's state in words, for messages and run notes."""
        parts = []
        if self.cap_usd is not None:
            parts.append(f"${self.spent_usd:.4f} of ${self.cap_usd:.4f}")
        if self.cap_tokens is not None:
            parts.append(f"{self.spent_tokens} of {self.cap_tokens} tokens")
        spent = ", ".join(parts) if parts else "no cap"
        return f"budget reached: {spent} spent"


class BudgetShare(Budget):
    """One spender's view of a shared :class:`Budget` (e.g. a run's judges).

    Every reservation, settlement and charge goes to ``parent`` (so the parent's caps
    stop this spender's calls, and its calls count against the parent), while the share
    also counts what was settled through it (``own_usd``, ``own_tokens``).
    """

    def __init__(self, parent: Budget) -> None:
        super().__init__()
        self.parent = parent
        self.own_usd = 0.0
        self.own_tokens = 0

    @property
    def limited(self) -> bool:
        """Whether the parent has a cap."""
        return self.parent.limited

    @property
    def exhausted(self) -> bool:
        """Whether the parent's settled spend reached a cap."""
        return self.parent.exhausted

    def reserve(self) -> Reservation:
        """Book a call against the parent (raises BudgetExceeded at its cap)."""
        return self.parent.reserve()

    def settle(self, reservation: Reservation, *, usd: float, tokens: int) -> None:
        """Settle on the parent, and count it here (once per reservation)."""
        with self._lock:
            first = not reservation.settled
            if first:
                self.own_usd += usd
                self.own_tokens += tokens
        self.parent.settle(reservation, usd=usd, tokens=tokens)

    def charge(self, *, usd: float, tokens: int) -> None:
        """Charge the parent, and count it here."""
        with self._lock:
            self.own_usd += usd
            self.own_tokens += tokens
        self.parent.charge(usd=usd, tokens=tokens)

    def describe(self) -> str:
        """The parent's state in words."""
        return self.parent.describe()
