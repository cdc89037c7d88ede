"""Graded tool-call scoring: what users rely on from `tool_calls`."""

from __future__ import annotations

import pytest

from nullband.config.models import ScorerSpec
from nullband.score.registry import load_scorer
from nullband.score.toolcalls import ToolCallScorer
from nullband.score.toolcalls.argf1 import OPTIONAL_WEIGHT, REQUIRED_WEIGHT

DATE_TOOL_PROPS = {"date": {"type": "string"}, "unit": {"type": "string"}}


def _score(mkcase, rec, gold, calls, tools=None, **opts):
    case = mkcase(gold, tools)
    return ToolCallScorer(**opts).score(case, rec(calls))


@pytest.mark.parametrize("spelling", ["May 26, 2026", "05/26/2026", "26 May 2026", "2026-5-26"])
def test_date_spellings_score_full_f1(mkcase, rec, spelling):
    res = _score(
        mkcase,
        rec,
        [{"name": "book", "arguments": {"date": "2026-05-26"}}],
        [("book", {"date": spelling})],
    )
    assert res.values["arg_f1"] == 1.0
    assert res.passed


def test_iso_gold_in_reverse_direction(mkcase, rec):
    res = _score(
        mkcase,
        rec,
        [{"name": "book", "arguments": {"date": "May 26, 2026"}}],
        [("book", {"date": "2026-05-26"})],
    )
    assert res.values["arg_f1"] == 1.0


def test_day_month_order_is_declared_not_guessed(mkcase, rec):
    gold = [{"name": "book", "arguments": {"date": "2026-05-06"}}]
    # 05/06 is May 6 in MDY and 5 June in DMY.
    assert _score(mkcase, rec, gold, [("book", {"date": "05/06/2026"})]).values["arg_f1"] == 1.0
    dmy = _score(mkcase, rec, gold, [("book", {"date": "05/06/2026"})], date_order="DMY")
    assert dmy.values["arg_f1"] == 0.0
    assert (
        _score(mkcase, rec, gold, [("book", {"date": "06/05/2026"})], date_order="DMY").values[
            "arg_f1"
        ]
        == 1.0
    )
    # 26/05/2026 is impossible in MDY: not silently read as DMY.
    gold26 = [{"name": "book", "arguments": {"date": "2026-05-26"}}]
    assert _score(mkcase, rec, gold26, [("book", {"date": "26/05/2026"})]).values["arg_f1"] == 0.0


def test_wrong_required_value_costs_more_than_wrong_optional(mkcase, rec, mktool):
    tools = [mktool("book", DATE_TOOL_PROPS, ["date"])]
    gold = [{"name": "book", "arguments": {"date": "2026-05-26", "unit": "usd"}}]
    wrong_req = _score(mkcase, rec, gold, [("book", {"date": "2026-05-27", "unit": "usd"})], tools)
    wrong_opt = _score(mkcase, rec, gold, [("book", {"date": "2026-05-26", "unit": "eur"})], tools)
    assert wrong_req.values["arg_f1"] < wrong_opt.values["arg_f1"]
    total = REQUIRED_WEIGHT + OPTIONAL_WEIGHT
    assert wrong_req.values["arg_f1"] == pytest.approx(OPTIONAL_WEIGHT / total)
    assert wrong_opt.values["arg_f1"] == pytest.approx(REQUIRED_WEIGHT / total)
    assert not wrong_req.passed
    assert not wrong_opt.passed


def test_malformed_arguments_are_a_scored_failure_with_reason(mkcase, rec):
    res = _score(
        mkcase,
        rec,
        [{"name": "book", "arguments": {"date": "2026-05-26"}}],
        [("book", '{"date": "2026-05-26"')],
    )
    assert res.passed is False
    assert res.values["selection"] == 1.0
    assert res.values["arg_f1"] == 0.0
    assert "not valid JSON" in (res.reason or "")


def test_arguments_that_are_not_an_object_fail_with_reason(mkcase, rec):
    res = _score(mkcase, rec, [{"name": "f", "arguments": {"a": 1}}], [("f", "[1, 2]")])
    assert res.passed is False
    assert "not an object" in (res.reason or "")


def test_missing_and_extra_keys_cost_recall_and_precision(mkcase, rec):
    res = _score(
        mkcase, rec, [{"name": "f", "arguments": {"a": 1, "b": 2}}], [("f", {"a": 1, "c": 3})]
    )
    assert res.values["arg_precision"] == pytest.approx(0.5)
    assert res.values["arg_recall"] == pytest.approx(0.5)
    assert "missing 1, extra 1" in (res.reason or "")


def test_null_for_an_absent_key_is_not_extra(mkcase, rec):
    res = _score(mkcase, rec, [{"name": "f", "arguments": {"a": 1}}], [("f", {"a": 1, "b": None})])
    assert res.passed
    assert res.values["arg_f1"] == 1.0


def test_numbers_int_float_and_numeric_strings(mkcase, rec, mktool):
    tools = [mktool("f", {"n": {"type": "number"}, "s": {"type": "string"}}, ["n"])]
    gold = [{"name": "f", "arguments": {"n": 2}}]
    assert _score(mkcase, rec, gold, [("f", {"n": 2.0})], tools).values["arg_f1"] == 1.0
    assert _score(mkcase, rec, gold, [("f", {"n": "2"})], tools).values["arg_f1"] == 1.0
    assert (
        _score(mkcase, rec, gold, [("f", {"n": "2"})], tools, coerce_numeric_strings=False).values[
            "arg_f1"
        ]
        == 0.0
    )
    assert _score(mkcase, rec, gold, [("f", {"n": 2.5})], tools).values["arg_f1"] == 0.0
    # A string-typed gold "2" is not satisfied by the number 2.
    sgold = [{"name": "f", "arguments": {"n": 1, "s": "2"}}]
    res = _score(mkcase, rec, sgold, [("f", {"n": 1, "s": 2})], tools)
    assert res.values["arg_f1"] < 1.0
    assert "type errors 1" in (res.reason or "")


def test_bool_is_never_a_number(mkcase, rec):
    assert (
        _score(mkcase, rec, [{"name": "f", "arguments": {"n": 1}}], [("f", {"n": True})]).values[
            "arg_f1"
        ]
        == 0.0
    )
    assert (
        _score(mkcase, rec, [{"name": "f", "arguments": {"b": True}}], [("f", {"b": 1})]).values[
            "arg_f1"
        ]
        == 0.0
    )


def test_case_whitespace_enum_and_aliases(mkcase, rec, mktool):
    tools = [
        mktool(
            "ride",
            {"type": {"type": "string", "enum": ["plus", "comfort"]}, "city": {"type": "string"}},
            ["type", "city"],
        )
    ]
    gold = [{"name": "ride", "arguments": {"type": "comfort", "city": "New York"}}]
    ok = _score(mkcase, rec, gold, [("ride", {"type": "Comfort", "city": "  new   YORK "})], tools)
    assert ok.passed
    nyc = [("ride", {"type": "comfort", "city": "NYC"})]
    assert not _score(mkcase, rec, gold, nyc, tools).passed
    assert _score(mkcase, rec, gold, nyc, tools, aliases={"nyc": "New York"}).passed


def test_ids_keep_case_but_not_whitespace(mkcase, rec):
    gold = [{"name": "get", "arguments": {"user_id": "Mia_Li_3668"}}]
    assert _score(mkcase, rec, gold, [("get", {"user_id": " Mia_Li_3668 "})]).passed
    assert not _score(mkcase, rec, gold, [("get", {"user_id": "mia_li_3668"})]).passed
    pattern = [{"name": "get", "arguments": {"ref": "HAT136"}}]
    assert _score(mkcase, rec, pattern, [("get", {"ref": "hat136"})]).passed
    assert not _score(
        mkcase, rec, pattern, [("get", {"ref": "hat136"})], id_patterns=[r"[A-Z]{3}\d+"]
    ).passed


def test_nested_arguments_are_flattened(mkcase, rec):
    gold = [
        {
            "name": "q",
            "arguments": {
                "range": {"from": "2026-05-01", "to": "2026-05-31"},
                "legs": [{"from": "SFO"}, {"from": "JFK"}],
            },
        }
    ]
    res = _score(
        mkcase,
        rec,
        gold,
        [
            (
                "q",
                {
                    "range": {"from": "May 1, 2026", "to": "2026-06-30"},
                    "legs": [{"from": "sfo"}, {"from": "JFK"}],
                },
            )
        ],
    )
    # 4 leaves, 3 right.
    assert res.values["arg_f1"] == pytest.approx(0.75)
    order = _score(
        mkcase,
        rec,
        gold,
        [
            (
                "q",
                {
                    "range": {"from": "2026-05-01", "to": "2026-05-31"},
                    "legs": [{"from": "JFK"}, {"from": "SFO"}],
                },
            )
        ],
    )
    assert order.values["arg_f1"] == pytest.approx(0.5)  # lists are ordered


def test_parallel_calls_are_matched_order_free(mkcase, rec):
    gold = [
        {"name": "w", "arguments": {"city": "Paris"}},
        {"name": "w", "arguments": {"city": "Rome"}},
    ]
    res = _score(mkcase, rec, gold, [("w", {"city": "Rome"}), ("w", {"city": "Paris"})])
    assert res.passed
    assert res.values["selection"] == 1.0
    assert res.values["arg_f1"] == 1.0


def test_parallel_overlap_is_matched_optimally(mkcase, rec):
    # BFCL's greedy first fit fails this; the optimal assignment passes it.
    gold = [{"w": {"city": ["Paris", "Rome"]}}, {"w": {"city": ["Paris"]}}]
    res = _score(mkcase, rec, gold, [("w", {"city": "Paris"}), ("w", {"city": "Rome"})])
    assert res.passed


def test_selection_counts_wrong_missing_and_extra_calls(mkcase, rec):
    gold = [{"name": "a", "arguments": {}}, {"name": "b", "arguments": {}}]
    assert _score(mkcase, rec, gold, [("a", {})]).values["selection"] == 0.5
    assert _score(mkcase, rec, gold, [("a", {}), ("b", {}), ("c", {})]).values[
        "selection"
    ] == pytest.approx(2 / 3)
    wrong = _score(mkcase, rec, [{"name": "a", "arguments": {"x": 1}}], [("b", {"x": 1})])
    assert wrong.values["selection"] == 0.0
    assert wrong.values["arg_f1"] is None  # not defined without a right tool
    assert "wrong tool" in (wrong.reason or "")


def test_no_call_expected_and_none_made(mkcase, rec):
    res = _score(mkcase, rec, [], [])
    assert res.passed
    assert res.values["selection"] == 1.0
    assert not _score(mkcase, rec, [], [("a", {})]).passed


def test_bfcl_form_optional_marker_is_not_counted_when_omitted(mkcase, rec):
    gold = [{"f": {"a": [1], "b": ["", "x"]}}]
    res = _score(mkcase, rec, gold, [("f", {"a": 1})])
    assert res.passed
    assert res.values["arg_recall"] == 1.0
    assert _score(mkcase, rec, gold, [("f", {"a": 1, "b": "X"})]).passed
    assert not _score(mkcase, rec, gold, [("f", {"a": 1, "b": "y"})]).passed


def test_bad_gold_gives_a_reason_not_a_crash(mkcase, rec):
    res = _score(mkcase, rec, "not calls", [("f", {})])
    assert res.passed is None
    assert "expected must be" in (res.reason or "")


def test_registered_in_the_scorer_registry():
    import nullband.score.toolcalls.builtins  # noqa: F401  (registers the tool scorers)

    for name in ("tool_calls", "bfcl", "extraction", "trajectory"):
        assert load_scorer(ScorerSpec(name=name)).name == name
    s = load_scorer(ScorerSpec(name="tool_calls", options={"date_order": "DMY"}))
    assert isinstance(s, ToolCallScorer)
    assert s.options.date_order == "DMY"


def test_unordered_lists_option(mkcase, rec):
    gold = [{"name": "tag", "arguments": {"tags": ["red", "green", "blue"]}}]
    swapped = [("tag", {"tags": ["blue", "red", "green"]})]
    assert _score(mkcase, rec, gold, swapped).values["arg_f1"] == 0.0  # positional by default
    res = _score(mkcase, rec, gold, swapped, unordered_lists=True)
    assert res.values["arg_f1"] == 1.0
    partial = _score(
        mkcase, rec, gold, [("tag", {"tags": ["green", "pink"]})], unordered_lists=True
    )
    # matched 1 of 2 predicted, 1 of 3 gold
    assert partial.values["arg_precision"] == pytest.approx(0.5)
    assert partial.values["arg_recall"] == pytest.approx(1 / 3)


def test_words_ending_in_id_are_not_ids(mkcase, rec):
    # "paid" is not an ID key, so case does not matter; "orderId" is one, so it does
    assert _score(
        mkcase, rec, [{"name": "f", "arguments": {"paid": "Yes"}}], [("f", {"paid": "yes"})]
    ).passed
    assert not _score(
        mkcase, rec, [{"name": "f", "arguments": {"orderId": "AB1"}}], [("f", {"orderId": "ab1"})]
    ).passed
