"""Pass rates per segment from stored records (what the demo prints for each candidate)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from nullband.records import Record
from nullband.suite.case import Case


@dataclass
class Tally:
    """Counts for one group of records."""

    n: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    unscored: int = 0

    @property
    def rate(self) -> float | None:
        """Passed over scored (passed + failed); None when nothing was scored."""
        scored = self.passed + self.failed
        return self.passed / scored if scored else None


@dataclass
class PassTable:
    """Pass counts overall and per value of one segment dimension."""

    dimension: str
    overall: Tally = field(default_factory=Tally)
    groups: dict[str, Tally] = field(default_factory=dict)


def pass_table(records: Iterable[Record], cases: Iterable[Case], dimension: str) -> PassTable:
    """Tally the ``pass`` score of ``records`` overall and by ``dimension`` of the case.

    A record that errored counts in ``errors``; one with no ``pass`` score (the scorer
    could not decide) in ``unscored``; neither counts towards the rate.
    """
    seg = {c.id: c.segments.get(dimension, "(none)") for c in cases}
    table = PassTable(dimension)
    for rec in records:
        group = table.groups.setdefault(seg.get(rec.case_id, "(unknown case)"), Tally())
        for tally in (table.overall, group):
            tally.n += 1
            if rec.status != "ok":
                tally.errors += 1
            elif (score := rec.scores.get("pass")) is None:
                tally.unscored += 1
            elif score >= 1.0:
                tally.passed += 1
            else:
                tally.failed += 1
    table.groups = dict(sorted(table.groups.items()))
    return table
