"""Pass-rate tables: errors and unscored records never count towards the rate."""

from __future__ import annotations

from datetime import UTC, datetime

from nullband.demo import pass_table
from nullband.records import Provenance, Record
from nullband.suite.case import Case


def _rec(cid: str, status: str, score: float | None) -> Record:
    return Record(
        run_id="r",
        case_id=cid,
        case_hash="h",
        target="t",
        request_hash="q",
        status=status,  # type: ignore[arg-type]
        provenance=Provenance(requested="m"),
        scores={} if score is None else {"pass": score},
        created_at=datetime.now(UTC),
    )


def test_rates_per_group_and_overall() -> None:
    cases = [
        Case(id="a1", prompt="x", segments={"kind": "a"}),
        Case(id="a2", prompt="x", segments={"kind": "a"}),
        Case(id="a3", prompt="x", segments={"kind": "a"}),
        Case(id="b1", prompt="x", segments={"kind": "b"}),
        Case(id="b2", prompt="x", segments={"kind": "b"}),
    ]
    records = [
        _rec("a1", "ok", 1.0),
        _rec("a2", "ok", 0.0),
        _rec("a3", "error", None),
        _rec("b1", "ok", None),  # the scorer could not decide
        _rec("b2", "ok", 1.0),
    ]
    table = pass_table(records, cases, "kind")
    a, b = table.groups["a"], table.groups["b"]
    assert (a.n, a.passed, a.failed, a.errors, a.rate) == (3, 1, 1, 1, 0.5)
    assert (b.n, b.passed, b.unscored, b.rate) == (2, 1, 1, 1.0)
    assert (table.overall.n, table.overall.passed, table.overall.failed) == (5, 2, 1)
    assert table.overall.rate == 2 / 3
    assert pass_table([_rec("a3", "error", None)], cases, "kind").overall.rate is None
