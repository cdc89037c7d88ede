"""Majority votes: over one judge's repeats, and across the judges of an ensemble.

Within one judge, repeats at a temperature are reduced to the modal answer; a tie
between modes leaves the judge undecided (it casts no vote). Across judges, a value
needs ``min_agree`` judges behind it to be the consensus; otherwise the item is split,
and with ``drop_if_split`` it is left unscored and counted as dropped. Unlike
inspect_ai's ``mode`` (the first judge breaks ties) and promptfoo's ``assert-set``
(mean child score over a threshold), a split is never resolved by list order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

T = TypeVar("T", bound=Hashable)
VoteStatus = Literal["consensus", "split", "no_votes"]


@dataclass(frozen=True, slots=True)
class VoteResult(Generic[T]):
    """The outcome of a vote.

    Attributes:
        value: the winning value, or None when split or with no votes.
        status: ``consensus``, ``split`` or ``no_votes``.
        support: votes behind the winning (or leading) value.
        valid: number of votes cast (missing and undecided voters left out).
        counts: votes per value.
    """

    value: T | None
    status: VoteStatus
    support: int
    valid: int
    counts: dict[T, int]


def mode(values: Sequence[T | None]) -> VoteResult[T]:
    """The modal value of ``values`` (None entries ignored); a tie between modes is a split.

    Example:
        >>> mode(["A", "A", "B"]).value
        'A'
        >>> mode(["A", "B"]).status
        'split'
    """
    present = [v for v in values if v is not None]
    counts: Counter[T] = Counter(present)
    if not counts:
        return VoteResult(None, "no_votes", 0, 0, {})
    top = counts.most_common()
    best, support = top[0]
    if len(top) > 1 and top[1][1] == support:
        return VoteResult(None, "split", support, len(present), dict(counts))
    return VoteResult(best, "consensus", support, len(present), dict(counts))


def consensus(votes: Sequence[T | None], min_agree: int) -> VoteResult[T]:
    """The value at least ``min_agree`` voters share (None voters abstain).

    When two values could both reach ``min_agree`` (possible when ``min_agree`` is at most
    half the voters) and tie, the vote is split.

    Example:
        >>> consensus(["A", "A", "tie"], min_agree=2).value
        'A'
        >>> consensus(["A", "B", "tie"], min_agree=2).status
        'split'
    """
    if min_agree < 1:
        raise ValueError(f"min_agree must be at least 1, got {min_agree}")
    m = mode(votes)
    if m.status == "no_votes":
        return m
    if m.status == "consensus" and m.support >= min_agree:
        return m
    return VoteResult(None, "split", m.support, m.valid, m.counts)
