"""Self-consistency (flip rate) and position bias of one judge, with intervals.

Definitions (reference/judges-and-tool-scoring.md, 9.2 and 9.3):

* Flip rate of an item asked K times in the same order: ``1 - (count of the modal
  answer) / K_readable``. Pairwise items are asked in both orders; the item's flip rate
  is the mean over the orders. Self-consistency = 1 - the mean flip rate over items.
* Position bias over pairs judged in both orders (sample k forward with sample k
  swapped): the shares of pairs that are consistent, won by the first position both
  times, by the second position both times, mixed with a tie, or unreadable; these five
  sum to 1. Also the first-position rate (share of decisive single verdicts naming the
  first answer shown; 0.5 when unbiased) and the net preference (share of pairs the
  candidate wins consistently minus those the reference wins).

Intervals resample items (every repeat of an item goes with it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence

import numpy as np
from pydantic import BaseModel, Field

from nullband.judges.estimate import DEFAULT_BOOT, Boot, Estimate, bootstrap_items, missing
from nullband.judges.pairwise import combine
from nullband.judges.parse import Verdict


class FlipItem(BaseModel):
    """One item's flip rate."""

    item: str = Field(description="Item id.")
    flip_rate: float = Field(description="1 - modal share of its repeated answers.")
    answers: dict[str, int] = Field(description="How often each answer was given.")


class SelfConsistency(BaseModel):
    """How often a judge changes its answer when asked the same thing again."""

    samples: int = Field(description="Repeats per item (per order, for pairwise).")
    items: int = Field(description="Items with at least two readable repeats.")
    mean_flip_rate: Estimate = Field(description="Mean flip rate over items, with interval.")
    self_consistency: Estimate = Field(description="1 - mean flip rate, with interval.")
    any_flip_share: Estimate = Field(description="Share of items with at least one flip.")
    quantiles: dict[str, float] = Field(
        default_factory=dict, description="Flip-rate distribution: p50, p75, p90, max."
    )
    histogram: dict[str, int] = Field(
        default_factory=dict, description="Items per flip-rate bin ('0', '(0,0.1]', ...)."
    )
    threshold: float = Field(description="Flip-rate threshold for listing items.")
    above_threshold: list[FlipItem] = Field(
        default_factory=list, description="Items whose flip rate exceeds the threshold."
    )


class PositionBias(BaseModel):
    """How a judge's pairwise verdicts depend on the order the answers are shown in."""

    pairs: int = Field(description="Both-order pairs judged (items x samples).")
    consistency: Estimate = Field(description="Share of pairs with the same winner in both orders.")
    first_both: Estimate = Field(description="Share of pairs where the first position won twice.")
    second_both: Estimate = Field(description="Share where the second position won twice.")
    tie_mixed: Estimate = Field(description="Share with a tie in one order and a win in the other.")
    error: Estimate = Field(description="Share with an unreadable verdict in either order.")
    inconsistent_pairs: int = Field(description="Count of pairs whose orders disagree.")
    first_position_rate: Estimate = Field(
        description="Of decisive single verdicts, the share naming the first answer (0.5 = none)."
    )
    net_preference: Estimate = Field(
        description="Consistent candidate wins minus consistent reference wins, per pair."
    )
    win_rate_adjusted: Estimate = Field(
        description="Candidate score per readable pair: win 1, tie or inconsistent 0.5, loss 0."
    )


def _flip(answers: Sequence[Hashable | None]) -> tuple[float, Counter[Hashable]] | None:
    readable = [a for a in answers if a is not None]
    if len(readable) < 2:
        return None
    counts: Counter[Hashable] = Counter(readable)
    return 1.0 - counts.most_common(1)[0][1] / len(readable), counts


def self_consistency(
    item_ids: Sequence[str],
    runs: Sequence[Sequence[Sequence[Hashable | None]]],
    *,
    threshold: float = 0.2,
    boot: Boot = DEFAULT_BOOT,
) -> SelfConsistency:
    """Flip rates from repeated answers.

    Args:
        item_ids: one id per item.
        runs: ``runs[item][order][k]``: the k-th answer for an item in one order (one
            order for pointwise judges, two for pairwise); None = unreadable.
        threshold: items with a flip rate above this are listed.
    """
    samples = max((len(o) for r in runs for o in r), default=0)
    rates: list[float] = []
    ids: list[str] = []
    any_flip: list[float] = []
    listed: list[FlipItem] = []
    for item, orders in zip(item_ids, runs, strict=True):
        per_order = [f for o in orders if (f := _flip(o)) is not None]
        if not per_order:
            continue
        rate = float(np.mean([f[0] for f in per_order]))
        rates.append(rate)
        ids.append(item)
        any_flip.append(1.0 if any(f[0] > 0 for f in per_order) else 0.0)
        if rate > threshold:
            total: Counter[Hashable] = Counter()
            for f in per_order:
                total.update(f[1])
            listed.append(
                FlipItem(item=item, flip_rate=rate, answers={str(k): v for k, v in total.items()})
            )
    arr = np.asarray(rates)
    anyf = np.asarray(any_flip)
    n = len(rates)
    if n == 0:
        why = (
            f"no item has two readable answers in one order (samples={samples}; "
            "unreadable replies are left out, see the unreadable share)"
            if samples >= 2
            else "one sample per item: set samples >= 2 to measure flips"
        )
        empty = missing(0, why)
        return SelfConsistency(
            samples=samples,
            items=0,
            mean_flip_rate=empty,
            self_consistency=empty,
            any_flip_share=empty,
            threshold=threshold,
        )
    mean_flip = bootstrap_items(lambda i: float(arr[i].mean()), n, boot, what="mean flip rate")
    consistency = bootstrap_items(
        lambda i: 1.0 - float(arr[i].mean()), n, boot, what="self-consistency"
    )
    any_share = bootstrap_items(lambda i: float(anyf[i].mean()), n, boot, what="any-flip share")
    bins = {"0": 0, "(0,0.1]": 0, "(0.1,0.2]": 0, "(0.2,0.3]": 0, "(0.3,0.4]": 0, ">0.4": 0}
    for r in rates:
        key = (
            "0"
            if r == 0
            else next(
                (
                    f"({lo:g},{hi:g}]"
                    for lo, hi in ((0, 0.1), (0.1, 0.2), (0.2, 0.3), (0.3, 0.4))
                    if lo < r <= hi
                ),
                ">0.4",
            )
        )
        bins[key] += 1
    q = np.quantile(arr, [0.5, 0.75, 0.9])
    return SelfConsistency(
        samples=samples,
        items=n,
        mean_flip_rate=mean_flip,
        self_consistency=consistency,
        any_flip_share=any_share,
        quantiles={
            "p50": float(q[0]),
            "p75": float(q[1]),
            "p90": float(q[2]),
            "max": float(arr.max()),
        },
        histogram=bins,
        threshold=threshold,
        above_threshold=sorted(listed, key=lambda x: -x.flip_rate),
    )


_KINDS = ("consistent", "first", "second", "tie_mixed", "error")


def position_bias(
    forward: Sequence[Sequence[Verdict | None]],
    swapped: Sequence[Sequence[Verdict | None]],
    *,
    boot: Boot = DEFAULT_BOOT,
) -> PositionBias:
    """Position-bias shares from both-order verdicts.

    Args:
        forward: ``forward[item][k]``: positional verdict with the candidate shown first.
        swapped: ``swapped[item][k]``: with the candidate shown second.
    """
    n = len(forward)
    kinds = np.zeros((n, len(_KINDS)))
    first = np.zeros(n)  # decisive single verdicts naming position A
    decisive = np.zeros(n)
    cand = np.zeros(n)
    ref = np.zeros(n)
    score_sum = np.zeros(n)
    readable = np.zeros(n)
    for i, (fw, sw) in enumerate(zip(forward, swapped, strict=True)):
        for v1, v2 in zip(fw, sw, strict=True):
            j = combine(v1, v2)
            kinds[i, _KINDS.index(j.bias)] += 1
            if j.outcome == "candidate":
                cand[i] += 1
            elif j.outcome == "reference":
                ref[i] += 1
            if j.score is not None:
                score_sum[i] += j.score
                readable[i] += 1
        for v in (*fw, *sw):
            if v in ("A", "B"):
                decisive[i] += 1
                first[i] += v == "A"
    totals = kinds.sum(axis=1)
    pairs = int(totals.sum())

    def share(num: np.ndarray, den: np.ndarray, what: str) -> Estimate:
        if n == 0 or den.sum() == 0:
            return missing(n, f"{what}: no pairs to count")

        def stat(idx: np.ndarray) -> float | None:
            d = den[idx].sum()
            return None if d == 0 else float(num[idx].sum() / d)

        return bootstrap_items(stat, n, boot, what=what)

    est = {k: share(kinds[:, c], totals, k) for c, k in enumerate(_KINDS)}
    return PositionBias(
        pairs=pairs,
        consistency=est["consistent"],
        first_both=est["first"],
        second_both=est["second"],
        tie_mixed=est["tie_mixed"],
        error=est["error"],
        inconsistent_pairs=int(kinds[:, 1:4].sum()),
        first_position_rate=share(first, decisive, "first-position rate"),
        net_preference=share(cand - ref, totals - kinds[:, 4], "net preference"),
        win_rate_adjusted=share(score_sum, readable, "adjusted win rate"),
    )
