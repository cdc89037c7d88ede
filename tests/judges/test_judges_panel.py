"""Both-order combination, votes and the panel's reduction to one score per case."""

from __future__ import annotations

import itertools

import pytest

from nullband.judges.pairwise import combine, to_outcome
from nullband.judges.panel import PanelConfig, reduce_grades, reduce_pairs
from nullband.judges.vote import consensus, mode


def test_positions_map_back_to_candidates() -> None:
    assert to_outcome("A", "forward") == "candidate"
    assert to_outcome("B", "forward") == "reference"
    assert to_outcome("A", "swapped") == "reference"
    assert to_outcome("B", "swapped") == "candidate"
    assert to_outcome("tie", "swapped") == "tie"
    assert to_outcome(None, "forward") is None


def test_every_both_order_combination() -> None:
    """All 16 combinations of two verdicts (A, B, tie, unreadable), by hand."""
    expected = {
        ("A", "B"): ("candidate", "consistent"),
        ("B", "A"): ("reference", "consistent"),
        ("tie", "tie"): ("tie", "consistent"),
        ("A", "A"): ("inconsistent", "first"),
        ("B", "B"): ("inconsistent", "second"),
        ("A", "tie"): ("inconsistent", "tie_mixed"),
        ("tie", "A"): ("inconsistent", "tie_mixed"),
        ("B", "tie"): ("inconsistent", "tie_mixed"),
        ("tie", "B"): ("inconsistent", "tie_mixed"),
    }
    for v1, v2 in itertools.product(["A", "B", "tie", None], repeat=2):
        j = combine(v1, v2)  # type: ignore[arg-type]
        if v1 is None or v2 is None:
            assert (j.outcome, j.bias, j.score, j.vote) == ("error", "error", None, None)
        else:
            assert (j.outcome, j.bias) == expected[(v1, v2)]
    assert combine("A", "A").score == 0.5  # inconsistent counts as a tie
    assert combine("A", "A").vote == "tie"


def test_mode_and_consensus() -> None:
    assert mode(["A", "A", "B", None]).value == "A"
    assert mode(["A", "B"]).status == "split"
    assert mode([None, None]).status == "no_votes"
    assert consensus(["A", "A", "B"], 2).value == "A"
    assert consensus(["A", "B", "tie"], 2).status == "split"
    # two valid votes that disagree cannot reach 2-of-3, whoever is listed first
    assert consensus(["A", None, "B"], 2).status == "split"
    assert consensus(["B", None, "A"], 2).status == "split"
    assert consensus(["A", "A", None], 2).value == "A"
    assert consensus(["A", "A", "B", "B"], 2).status == "split"  # never broken by list order
    with pytest.raises(ValueError, match="min_agree"):
        consensus(["A"], 0)


def test_single_judge_score_is_the_mean_of_its_repeats() -> None:
    out = reduce_grades({"j": [4.0, 5.0, None, 3.0]}, min_agree=1, drop_if_split=True)
    assert out.status == "scored"
    assert out.value == pytest.approx(4.0)
    pairs = [combine("A", "B"), combine("A", "A"), combine(None, "B")]
    out = reduce_pairs({"j": pairs}, min_agree=1, drop_if_split=True)
    assert out.value == pytest.approx((1.0 + 0.5) / 2)
    assert out.inconsistent == pytest.approx(0.5)
    assert out.pairs == 2


def test_unreadable_everywhere_is_unscored_with_the_reason() -> None:
    out = reduce_grades(
        {"j": [None, None]}, min_agree=1, drop_if_split=True, reasons=[None, "judge j: no grade"]
    )
    assert out.status == "unscored"
    assert out.value is None
    assert out.reason == "judge j: no grade"


def test_ensemble_two_of_three_and_drop_if_split() -> None:
    agree = reduce_pairs(
        {
            "j1": [combine("A", "B")],
            "j2": [combine("A", "B")],
            "j3": [combine("B", "A")],
        },
        min_agree=2,
        drop_if_split=True,
    )
    assert agree.status == "scored"
    assert agree.value == 1.0
    split = reduce_pairs(
        {
            "j1": [combine("A", "B")],
            "j2": [combine("B", "A")],
            "j3": [combine("A", "A")],  # inconsistent: a vote for tie
        },
        min_agree=2,
        drop_if_split=True,
    )
    assert split.status == "dropped"
    assert split.value is None
    assert "judges split" in (split.reason or "")
    kept = reduce_pairs(
        {"j1": [combine("A", "B")], "j2": [combine("B", "A")], "j3": [combine("A", "A")]},
        min_agree=2,
        drop_if_split=False,
    )
    assert kept.status == "scored"
    assert kept.value == pytest.approx(0.5)  # mean of 1, 0, 0.5


def test_ensemble_grades_vote_per_judge_then_across_judges() -> None:
    out = reduce_grades(
        {"j1": [4.0, 4.0, 2.0], "j2": [4.0, 3.0, 4.0], "j3": [1.0, 1.0, 1.0]},
        min_agree=2,
        drop_if_split=True,
    )
    assert out.value == 4.0
    assert out.votes == {"j1": 4.0, "j2": 4.0, "j3": 1.0}
    split = reduce_grades({"j1": [4.0, 2.0], "j2": [3.0]}, min_agree=2, drop_if_split=True)
    assert split.status == "dropped"  # j1 undecided between 4 and 2, j2 alone says 3


def test_panel_config_checks() -> None:
    j = {"name": "a", "base_url": "http://127.0.0.1:1/v1", "model": "m"}
    assert PanelConfig(judges=[j, {**j, "name": "b"}, {**j, "name": "c"}]).agree_needed == 2
    with pytest.raises(ValueError, match="unique"):
        PanelConfig(judges=[j, j])
    with pytest.raises(ValueError, match="min_agree"):
        PanelConfig(judges=[j], min_agree=2)
    assert PanelConfig(judges=[j], temperature=None).params() == {}
    assert PanelConfig(judges=[j], temperature=0.7).params() == {"temperature": 0.7}
