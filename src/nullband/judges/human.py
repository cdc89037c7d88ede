"""Agreement of a judge with human labels: kappa (plain and weighted), raw agreement,
the majority-class baseline, and McNemar's test for a systematic lean.

Raw agreement alone says little: a judge that always answers the majority label agrees
as often as that label is common (51% on FairEval's human labels) with kappa 0. So the
majority baseline is always reported next to it, and the trust gate reads kappa.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from nullband.judges.agreement import KappaWeights, kappa_from_codes, mcnemar
from nullband.judges.estimate import DEFAULT_BOOT, Boot, Estimate, bootstrap_items, missing


class McNemarBias(BaseModel):
    """McNemar's test of whether the judge says 'positive' more or less often than humans."""

    positive: str = Field(description="What counts as positive (e.g. 'candidate', 'grade >= 4').")
    judge_only: int = Field(description="Items the judge calls positive and humans do not.")
    human_only: int = Field(description="Items humans call positive and the judge does not.")
    p_exact: float = Field(description="Two-sided exact McNemar p-value.")
    p_mid: float = Field(description="Mid-p McNemar p-value.")
    lean: Literal["judge more positive", "judge less positive", "none"] = Field(
        description="Direction of the discordance (not a significance claim)."
    )


class HumanAgreement(BaseModel):
    """A judge's labels against human labels on the same items."""

    items: int = Field(description="Items with both a judge label and a human label.")
    categories: list[str] = Field(description="Labels, in scale order.")
    raw_agreement: Estimate = Field(description="Share of items labelled the same.")
    majority_baseline: float | None = Field(
        description="Raw agreement of always answering the most common human label."
    )
    kappa: Estimate = Field(description="Cohen's kappa (unweighted).")
    kappa_linear: Estimate | None = Field(
        default=None, description="Weighted kappa, linear weights (ordinal scales only)."
    )
    kappa_quadratic: Estimate | None = Field(
        default=None, description="Weighted kappa, quadratic weights (ordinal scales only)."
    )
    gate_weights: KappaWeights = Field(description="Which kappa the trust gate reads.")
    mcnemar: McNemarBias | None = Field(default=None, description="Test of a systematic lean.")

    def gate_kappa(self) -> Estimate:
        """The kappa the trust gate reads."""
        if self.gate_weights == "linear" and self.kappa_linear is not None:
            return self.kappa_linear
        if self.gate_weights == "quadratic" and self.kappa_quadratic is not None:
            return self.kappa_quadratic
        return self.kappa


def human_agreement(
    judge: Sequence[Hashable],
    human: Sequence[Hashable],
    *,
    categories: Sequence[Hashable],
    ordinal: bool,
    gate_weights: KappaWeights,
    positive: Sequence[Hashable],
    positive_name: str,
    boot: Boot = DEFAULT_BOOT,
) -> HumanAgreement:
    """Agreement statistics with bootstrap intervals over items.

    Args:
        judge: the judge's label per item.
        human: the human label per item (same order).
        categories: every label in scale order (for weighted kappa).
        ordinal: whether weighted kappas make sense.
        gate_weights: which kappa the trust gate reads.
        positive: labels counted as positive in the McNemar test.
        positive_name: how to describe ``positive`` in the report.
    """
    n = len(judge)
    cats = list(categories)
    j_arr = list(judge)
    h_arr = list(human)
    index = {c: i for i, c in enumerate(cats)}
    j_codes = np.asarray([index[x] for x in j_arr], dtype=np.intp)
    h_codes = np.asarray([index[x] for x in h_arr], dtype=np.intp)

    def kappa_est(weights: KappaWeights, what: str) -> Estimate:
        def stat(idx: np.ndarray) -> float | None:
            return kappa_from_codes(j_codes[idx], h_codes[idx], len(cats), weights=weights)

        return bootstrap_items(stat, n, boot, what=what)

    if n == 0:
        none = missing(0, "no item has both a judge label and a human label")
        return HumanAgreement(
            items=0,
            categories=[str(c) for c in cats],
            raw_agreement=none,
            majority_baseline=None,
            kappa=none,
            gate_weights=gate_weights,
        )
    same = np.asarray([a == b for a, b in zip(j_arr, h_arr, strict=True)], dtype=float)
    raw = bootstrap_items(lambda i: float(same[i].mean()), n, boot, what="raw agreement")
    top = Counter(h_arr).most_common(1)[0][1] / n
    pos = set(positive)
    b = sum(1 for a, h in zip(j_arr, h_arr, strict=True) if a in pos and h not in pos)
    c = sum(1 for a, h in zip(j_arr, h_arr, strict=True) if a not in pos and h in pos)
    test = mcnemar(b, c)
    lean: Literal["judge more positive", "judge less positive", "none"] = (
        "judge more positive" if b > c else "judge less positive" if c > b else "none"
    )
    return HumanAgreement(
        items=n,
        categories=[str(c) for c in cats],
        raw_agreement=raw,
        majority_baseline=top,
        kappa=kappa_est("none", "kappa"),
        kappa_linear=kappa_est("linear", "linear weighted kappa") if ordinal else None,
        kappa_quadratic=kappa_est("quadratic", "quadratic weighted kappa") if ordinal else None,
        gate_weights=gate_weights,
        mcnemar=McNemarBias(
            positive=positive_name,
            judge_only=b,
            human_only=c,
            p_exact=test.p_exact,
            p_mid=test.p_mid,
            lean=lean,
        ),
    )
