"""Structured extraction: field accuracy, hallucinated and omitted fields."""

from __future__ import annotations

import pytest

from nullband.score.extraction import ExtractionScorer

GOLD = {
    "vendor": {"name": "Acme GmbH", "tax_id": None},
    "total": 120.5,
    "date": "2026-05-26",
    "po": None,
}


def test_all_correct_after_normalisation(mkcase, rec):
    text = (
        '```json\n{"vendor": {"name": "ACME  gmbh", "tax_id": null}, "total": "120.50", '
        '"date": "May 26, 2026"}\n```'
    )
    res = ExtractionScorer().score(mkcase(GOLD), rec(text=text))
    assert res.passed
    assert res.values["field_accuracy"] == 1.0
    assert res.values["hallucination_rate"] == 0.0
    assert res.values["omission_rate"] == 0.0


def test_hallucinated_field_is_counted_against_gold_nulls(mkcase, rec):
    text = (
        '{"vendor": {"name": "Acme GmbH", "tax_id": "DE123456789"}, "total": 120.5, '
        '"date": "2026-05-26", "po": "N/A"}'
    )
    res = ExtractionScorer().score(mkcase(GOLD), rec(text=text))
    # 2 gold-null fields: tax_id filled (hallucinated), po "N/A" (a null token).
    assert res.values["hallucination_rate"] == pytest.approx(0.5)
    assert res.values["field_accuracy"] == pytest.approx(4 / 5)
    assert not res.passed
    assert "vendor.tax_id: hallucinated" in (res.reason or "")


def test_omitted_and_wrong_fields_are_separate(mkcase, rec):
    text = '{"vendor": {"name": "Other"}, "date": "2026-05-26", "extra_field": 3}'
    res = ExtractionScorer().score(mkcase(GOLD), rec(text=text))
    # valued gold fields: name (wrong), total (omitted), date (correct)
    assert res.values["omission_rate"] == pytest.approx(1 / 3)
    assert res.values["wrong_value_rate"] == pytest.approx(1 / 3)
    assert res.values["field_accuracy"] == pytest.approx(3 / 5)
    assert "extra fields: extra_field" in (res.reason or "")


def test_no_gold_nulls_gives_no_hallucination_rate(mkcase, rec):
    res = ExtractionScorer().score(mkcase({"a": 1}), rec(text='{"a": 1}'))
    assert res.values["hallucination_rate"] is None  # undefined, not 0


def test_malformed_output_is_a_failure_with_reason(mkcase, rec):
    res = ExtractionScorer().score(mkcase(GOLD), rec(text="I could not read the invoice"))
    assert res.passed is False
    assert res.values["field_accuracy"] == 0.0
    assert "no JSON object" in (res.reason or "")


def test_tool_call_arguments_are_read_when_there_is_no_text(mkcase, rec):
    res = ExtractionScorer().score(mkcase({"a": "x"}), rec([("extract", {"a": "X"})]))
    assert res.passed


def test_per_field_report(mkcase):
    rep = ExtractionScorer(null_strings=[""]).report(GOLD, {"vendor": {"tax_id": "unknown"}})
    assert rep.fields["vendor.tax_id"] == "hallucinated"  # "unknown" is not null here
    assert rep.fields["vendor.name"] == "omitted"
    assert rep.fields["po"] == "correct"
