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


def test_field_rows_for_per_field_tables(mkcase, rec):
    from nullband.score.extraction import field_rows

    text = '{"vendor": {"name": "Acme GmbH", "tax_id": "DE1"}, "date": "2026-05-26"}'
    rows = {r.segments["field"]: r.scores for r in field_rows(mkcase(GOLD), rec(text=text))}
    assert rows["vendor.tax_id"] == {
        "field_correct": 0.0,
        "hallucinated": 1.0,
        "omitted": None,
        "wrong_value": None,
    }
    assert rows["total"]["omitted"] == 1.0
    assert rows["total"]["hallucinated"] is None
    assert rows["vendor.name"]["field_correct"] == 1.0
    broken = field_rows(mkcase(GOLD), rec(text="no json"))
    assert len(broken) == 5
    assert all(r.error and not r.scores for r in broken)


def test_fields_command_compares_targets(mkcase, rec, tmp_path):
    import orjson
    import typer
    from typer.testing import CliRunner

    from nullband._cli import tools_cmd
    from nullband.suite.importers import write_suite

    cases = [
        mkcase({"vendor": f"V{i}", "tax_id": None if i % 2 else f"T{i}"}, id=f"inv{i}")
        for i in range(40)
    ]
    recs = []
    for c in cases:
        gold = c.expected
        recs.append(rec(text=orjson.dumps(gold).decode(), case_id=c.id, target="base"))
        filled = {**gold, "tax_id": gold["tax_id"] or "T-made-up"}  # hallucinates every null
        recs.append(rec(text=orjson.dumps(filled).decode(), case_id=c.id, target="ft"))
    write_suite(cases, tmp_path / "s.jsonl")
    write_suite(recs, tmp_path / "r.jsonl")
    app = typer.Typer()
    tools_cmd.register(app)
    res = CliRunner().invoke(
        app,
        [
            "tools",
            "fields",
            "--suite",
            str(tmp_path / "s.jsonl"),
            "--records",
            str(tmp_path / "r.jsonl"),
            "--baseline",
            "base",
            "--candidate",
            "ft",
            "--json",
            "--resamples",
            "200",
        ],
    )
    assert res.exit_code == 0, res.output
    by = {(d["tool"], d["metric"]): d for d in orjson.loads(res.output)}
    hall = by["tax_id", "hallucinated"]["summary"]
    assert hall["n"] == 20  # only fields whose gold is null
    assert hall["baseline_mean"] == 0.0
    assert hall["candidate_mean"] == 1.0
    assert by["vendor", "field_correct"]["summary"]["delta"] == 0.0
