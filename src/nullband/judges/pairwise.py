"""Both-order pairwise judging: mapping positions back to candidates and combining.

Every pair is judged twice, once with the candidate shown first (``forward``: A =
candidate, B = reference) and once with it shown second (``swapped``: A = reference, B =
candidate). Each verdict is mapped back to a candidate-relative outcome at once. The two
orders are then combined (MT-Bench's conservative rule): a winner only when both orders
agree; a pair whose orders disagree is ``inconsistent``, counted, and scored as a tie; a
pair with an unreadable verdict in either order is ``error`` and left unscored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from nullband.judges.parse import Verdict

Order = Literal["forward", "swapped"]
Outcome = Literal["candidate", "reference", "tie"]
PairOutcome = Literal["candidate", "reference", "tie", "inconsistent", "error"]
BiasKind = Literal["consistent", "first", "second", "tie_mixed", "error"]

OUTCOME_SCORE: dict[str, float] = {
    "candidate": 1.0,
    "tie": 0.5,
    "inconsistent": 0.5,
    "reference": 0.0,
}
"""Score of a combined outcome for the candidate: win 1, tie or inconsistent 0.5, loss 0."""


def to_outcome(verdict: Verdict | None, order: Order) -> Outcome | None:
    """Map a positional verdict (A = first shown) to a candidate-relative outcome."""
    if verdict is None:
        return None
    if verdict == "tie":
        return "tie"
    first_is_candidate = order == "forward"
    if (verdict == "A") == first_is_candidate:
        return "candidate"
    return "reference"


@dataclass(frozen=True, slots=True)
class PairJudgment:
    """One both-order judgment of a (candidate, reference) pair.

    Attributes:
        forward: positional verdict with the candidate shown first (None if unreadable).
        swapped: positional verdict with the candidate shown second.
        outcome: the combined outcome for the candidate.
        bias: how the two orders relate: ``consistent``; ``first`` (the first position
            won both times); ``second``; ``tie_mixed`` (a tie in one order and a win in
            the other); ``error``.
    """

    forward: Verdict | None
    swapped: Verdict | None
    outcome: PairOutcome
    bias: BiasKind

    @property
    def score(self) -> float | None:
        """1 win, 0.5 tie or inconsistent, 0 loss; None when unreadable."""
        return OUTCOME_SCORE.get(self.outcome)

    @property
    def vote(self) -> Outcome | None:
        """The outcome as a vote in an ensemble: an inconsistent pair votes tie."""
        if self.outcome == "error":
            return None
        if self.outcome == "inconsistent":
            return "tie"
        return self.outcome


def combine(forward: Verdict | None, swapped: Verdict | None) -> PairJudgment:
    """Combine the verdicts of both orders into one :class:`PairJudgment`.

    Example:
        >>> combine("A", "A").outcome  # always the first slot
        'inconsistent'
        >>> combine("A", "B").outcome  # the candidate both times
        'candidate'
    """
    o1 = to_outcome(forward, "forward")
    o2 = to_outcome(swapped, "swapped")
    if o1 is None or o2 is None:
        return PairJudgment(forward, swapped, "error", "error")
    if o1 == o2:
        return PairJudgment(forward, swapped, o1, "consistent")
    if forward == "A" and swapped == "A":
        bias: BiasKind = "first"
    elif forward == "B" and swapped == "B":
        bias = "second"
    else:
        bias = "tie_mixed"
    return PairJudgment(forward, swapped, "inconsistent", bias)
