"""Reading grades and verdicts from messy judge replies."""

from __future__ import annotations

import pytest

from nullband.judges.parse import parse_grade, parse_verdict


@pytest.mark.parametrize(
    ("reply", "grade"),
    [
        ('{"reasoning": "fine", "score": 4}', 4.0),
        ('Here is my grade:\n```json\n{"Rating": "3"}\n```', 3.0),
        ("The answer is correct but terse. [[4]]", 4.0),
        ("Score: 4/5", 4.0),
        ("Rating - 2 out of 5", 2.0),
        ("**Final score:** 5", 5.0),
        ("A 2 would be harsh; a 3 is fair.\nScore: 3", 3.0),
        ("Score: 2 ... on reflection, Score: 4", 4.0),  # the last grade wins
        ("I would say four.\nGrade: four", 4.0),
        ("4", 4.0),
        ("  five. ", 5.0),
        ("Good overall. 4/5", 4.0),
        ("Score:\u200b 3", 3.0),  # zero-width space
    ],
)
def test_grades_are_read_from_many_shapes(reply: str, grade: float) -> None:
    got = parse_grade(reply, scale_min=1, scale_max=5)
    assert got.ok, got.reason
    assert got.value == grade


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        ("", "empty"),
        ("   ", "empty"),
        (None, "empty"),
        ("This answer is pretty good, I like it.", "no grade found"),
        ("Score: 7", "outside the scale"),
        ("Rating: 8/10", "not on the scale"),
        ('{"score": "excellent"}', "not a grade"),
        ("[[great]]", "not a grade"),
    ],
)
def test_unreadable_grades_fail_with_a_reason(reply: str | None, why: str) -> None:
    got = parse_grade(reply, scale_min=1, scale_max=5)
    assert not got.ok
    assert got.value is None
    assert got.reason is not None
    assert why in got.reason


def test_word_labels_map_to_grades() -> None:
    labels = {"C": 1, "P": 0.5, "I": 0}
    assert parse_grade("reasoning...\nGRADE: C", scale_min=0, scale_max=1, labels=labels).value == 1
    assert parse_grade("GRADE: P", scale_min=0, scale_max=1, labels=labels).value == 0.5
    assert parse_grade("I", scale_min=0, scale_max=1, labels=labels).value == 0
    # an off-menu letter is unreadable, not a fail
    assert not parse_grade("GRADE: X", scale_min=0, scale_max=1, labels=labels).ok


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ("Answer A is more complete. [[A]]", "A"),
        ("[[B]]", "B"),
        ("Both are equally good. [[C]]", "tie"),
        ("[[tie]]", "tie"),
        ('{"winner": "B", "why": "shorter"}', "B"),
        ('{"verdict": "tie"}', "tie"),
        ("Final verdict: Assistant A", "A"),
        ("Winner - tie", "tie"),
        ("B", "B"),
        ("  a. ", "A"),
        ("The correct answer is B.", "B"),
        ("The better response is: Answer A", "A"),
        ("A\nCapital of France = Paris", "A"),
        # quoting the instructions first, then answering: the last marker wins
        ('Output "[[A]]", "[[B]]" or "[[C]]". My answer: [[B]]', "B"),
    ],
)
def test_verdicts_are_read(reply: str, verdict: str) -> None:
    got = parse_verdict(reply)
    assert got.ok, got.reason
    assert got.verdict == verdict


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "Both have merits and drawbacks.",
        '{"winner": "the first"}',
        "[[D]]",
        "A or B",
        "A good answer would mention Paris.",
        "The correct answer is 5.",
    ],
)
def test_unreadable_verdicts_are_errors_not_ties(reply: str) -> None:
    got = parse_verdict(reply)
    assert got.verdict is None
    assert got.reason
