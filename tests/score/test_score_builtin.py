"""Built-in text and JSON scorers, the registry, and score merging."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from nullband.config.models import ScorerSpec
from nullband.errors import ScorerError
from nullband.records import Provenance, Record
from nullband.score.registry import load_scorer, load_scorers, score_record
from nullband.suite.case import Case


def rec(text: str | None, status: str = "ok") -> Record:
    return Record(
        run_id="r",
        case_id="c",
        case_hash="h",
        target="t",
        request_hash="q",
        status=status,  # type: ignore[arg-type]
        output_text=text,
        provenance=Provenance(requested="m"),
        created_at=datetime.now(UTC),
    )


def case(expected: object) -> Case:
    return Case(id="c", prompt="p", expected=expected)


def run(scorers: list[str], c: Case, r: Record) -> tuple[dict[str, float | None], dict[str, str]]:
    loaded = load_scorers([ScorerSpec(name=n) for n in scorers])
    return asyncio.run(score_record(c, r, loaded))


def test_exact_and_normalized_differ_on_case_and_punctuation() -> None:
    scores, reasons = run(["exact"], case("Paris"), rec("paris."))
    assert scores == {"exact": 0.0, "pass": 0.0}
    assert "expected 'Paris'" in reasons["exact"]
    scores, _ = run(["normalized"], case("Paris"), rec("  paris. "))
    assert scores == {"normalized": 1.0, "pass": 1.0}


def test_contains_accepts_any_of_several_golds() -> None:
    scores, _ = run(["contains"], case(["42", "forty-two"]), rec("The answer is Forty-Two!"))
    assert scores["pass"] == 1.0


def test_regex_option_and_bad_pattern() -> None:
    s = load_scorer(ScorerSpec(name="regex", options={"pattern": r"^\d+$"}))
    assert asyncio.run(score_record(case(None), rec("123"), [s]))[0]["pass"] == 1.0
    assert asyncio.run(score_record(case(None), rec("12a"), [s]))[0]["pass"] == 0.0
    with pytest.raises(ScorerError, match="invalid pattern"):
        load_scorer(ScorerSpec(name="regex", options={"pattern": "("}))


@pytest.mark.parametrize(
    ("output", "ok"),
    [
        ('{"b": 2, "a": 1.0}', True),
        ('```json\n{"a": 1e0,\n "b": 2}\n```', True),
        ('Sure! Here it is: {"a": 1, "b": 2} hope it helps', True),
        ('{"a": 1, "b": 3}', False),
        ('{"a": true, "b": 2}', False),
    ],
)
def test_json_ignores_order_whitespace_and_number_format(output: str, ok: bool) -> None:
    scores, _ = run(["json"], case({"a": 1, "b": 2}), rec(output))
    assert scores["pass"] == (1.0 if ok else 0.0)


def test_malformed_json_output_is_a_failed_case_with_reason() -> None:
    scores, reasons = run(["json"], case({"a": 1}), rec('{"a": 1'))
    assert scores["pass"] == 0.0
    assert "no JSON value" in reasons["json"]


def test_pass_is_and_of_verdicts_and_errors_are_unscored() -> None:
    scores, _ = run(["contains", "exact"], case("yes"), rec("yes, indeed"))
    assert scores == {"contains": 1.0, "exact": 0.0, "pass": 0.0}
    assert run(["exact"], case("x"), rec(None, status="error")) == ({}, {})


def test_missing_gold_gives_no_verdict_and_a_reason() -> None:
    scores, reasons = run(["exact"], case(None), rec("anything"))
    assert scores == {"pass": None}
    assert "no 'expected'" in reasons["exact"]


def test_an_unscored_scorer_never_lets_the_record_pass_silently() -> None:
    # "contains" passes, "json" cannot score (its gold is not JSON): pass is null, not 1.
    c = case("plain text, not JSON")
    scores, reasons = run(["contains", "json"], c, rec("plain text, not JSON"))
    assert scores["contains"] == 1.0
    assert scores["pass"] is None
    assert "not JSON" in reasons["json"]
    # ...but a failed verdict still fails the record.
    scores, _ = run(["exact", "json"], c, rec("something else"))
    assert scores["pass"] == 0.0


def test_unknown_scorer_and_dotted_path() -> None:
    with pytest.raises(ScorerError, match="unknown scorer 'nope'"):
        load_scorer(ScorerSpec(name="nope"))
    s = load_scorer(ScorerSpec(name="nullband.score.match:ExactScorer"))
    assert s.name == "exact"
    with pytest.raises(ScorerError, match="has no 'Missing'"):
        load_scorer(ScorerSpec(name="nullband.score.match:Missing"))


class Boom:
    name = "boom"

    def score(self, case: Case, record: Record) -> object:
        raise RuntimeError("bug in user scorer")


def test_a_raising_user_scorer_does_not_crash_the_run() -> None:
    scores, reasons = asyncio.run(score_record(case("x"), rec("x"), [Boom()]))  # type: ignore[list-item]
    assert scores == {"pass": None}
    assert "RuntimeError" in reasons["boom"]


@pytest.mark.parametrize(
    "name",
    ["tool_calls", "bfcl", "extraction", "trajectory", "judge_rubric", "judge_pairwise"],
)
def test_every_builtin_name_resolves_without_importing_its_module_first(name: str) -> None:
    import subprocess
    import sys

    code = (
        "from nullband.score.registry import resolve_factory, available;"
        f"f = resolve_factory({name!r}); assert callable(f); assert {name!r} in available()"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
