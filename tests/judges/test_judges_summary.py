"""Summaries of judge metrics over stored records: scored, dropped, unreadable, failed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from nullband.judges.summary import summarize_records
from nullband.records import Provenance, Record


def _rec(i: int, scores: dict[str, float | None], reasons: dict[str, str]) -> Record:
    return Record(
        run_id="r",
        case_id=f"c{i}",
        case_hash="h",
        target="t",
        request_hash="h",
        status="ok",
        provenance=Provenance(requested="m"),
        scores=scores,
        score_reasons=reasons,
        created_at=datetime.now(UTC),
    )


def test_every_unscored_reason_is_counted_in_its_class() -> None:
    m = "judge_pairwise"
    recs = [
        _rec(0, {m: 1.0, f"{m}_inconsistent": 0.0}, {}),
        _rec(1, {m: 0.5, f"{m}_inconsistent": 1.0}, {}),
        _rec(2, {m: None}, {m: "judges split (a=candidate, b=tie); 2 must agree, so dropped"}),
        _rec(3, {m: None}, {m: "judge a: no verdict found in the reply: 'hmm'"}),
        _rec(4, {m: None}, {m: "judge a: call failed: server error (after 6 attempt(s))"}),
        _rec(5, {}, {m: "judge not asked: budget reached: $1 of $1 spent"}),
        _rec(6, {}, {m: "no reference output for case 'c6' (reference_from='expected')"}),
        _rec(7, {"exact": 1.0}, {}),  # another scorer only: not seen by the judge metric
    ]
    (s,) = summarize_records(recs)
    assert s.metric == m
    assert (s.records, s.scored, s.dropped, s.unreadable, s.failed, s.not_asked, s.other) == (
        7, 2, 1, 1, 1, 1, 1,
    )  # fmt: skip
    assert s.dropped_share == pytest.approx(1 / 7)
    assert s.mean == pytest.approx(0.75)
    assert s.inconsistent_share == pytest.approx(0.5)
    assert summarize_records(recs, ["exact"])[0].records == 1


def test_package_exports_resolve() -> None:
    import nullband.judges as judges

    assert judges.__all__ == sorted(judges.__all__)
    for name in judges.__all__:
        assert getattr(judges, name) is not None
    with pytest.raises(AttributeError):
        _ = judges.no_such_name
