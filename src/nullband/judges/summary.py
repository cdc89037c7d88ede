"""What the judges did in an eval run: per judge metric, how many records were scored,
left unscored (and why), dropped because the panel split, and how often the two orders
of a pairwise judgment disagreed; per judge, calls, cache hits, tokens and cost."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic import BaseModel, Field

from nullband.judges.call import JudgeUsage
from nullband.records import Record

SUMMARY_SCHEMA_VERSION = 1
_KNOWN = ("judge_rubric", "judge_pairwise")


class JudgeMetricSummary(BaseModel):
    """One judge-derived metric over a run's records."""

    metric: str = Field(description="The metric (scorer) name.")
    records: int = Field(description="Successful records the scorer saw.")
    scored: int = Field(description="Records with a value.")
    dropped: int = Field(description="Records dropped because the judges split.")
    dropped_share: float | None = Field(description="dropped / records (null with no records).")
    unreadable: int = Field(description="Records with no readable grade or verdict.")
    failed: int = Field(description="Records whose judge calls failed.")
    not_asked: int = Field(description="Records not judged because a budget cap was reached.")
    other: int = Field(description="Records unscored for another reason (e.g. no reference).")
    mean: float | None = Field(description="Mean value over scored records.")
    inconsistent_share: float | None = Field(
        default=None,
        description="Pairwise: mean share of both-order pairs that disagreed, per record.",
    )


class JudgeRunSummary(BaseModel):
    """``nullband judge summary``: the judges' part of one run."""

    schema_version: int = Field(default=SUMMARY_SCHEMA_VERSION, description="Schema version.")
    run_id: str = Field(description="The run.")
    metrics: list[JudgeMetricSummary] = Field(description="Per judge-derived metric.")
    usage: list[JudgeUsage] = Field(
        default_factory=list, description="Per judge, from the judge ledger (if kept)."
    )


def _judge_metrics(records: Sequence[Record], wanted: Sequence[str] | None) -> list[str]:
    if wanted:
        return list(wanted)
    names: set[str] = set()
    for r in records:
        for k in r.scores:
            if k in _KNOWN or f"{k}_inconsistent" in r.scores or f"{k}_grade" in r.scores:
                names.add(k)
        names.update(k for k in r.score_reasons if k in _KNOWN)
    return sorted(names)


def summarize_records(
    records: Iterable[Record], metrics: Sequence[str] | None = None
) -> list[JudgeMetricSummary]:
    """Summaries of the judge metrics in ``records`` (all found, or the ones named)."""
    recs = [r for r in records if r.status == "ok"]
    out: list[JudgeMetricSummary] = []
    for m in _judge_metrics(recs, metrics):
        seen = [r for r in recs if m in r.scores or m in r.score_reasons]
        values = [v for r in seen if (v := r.scores.get(m)) is not None]
        counts = {"dropped": 0, "unreadable": 0, "failed": 0, "not_asked": 0, "other": 0}
        for r in seen:
            if r.scores.get(m) is not None:
                continue
            why = r.score_reasons.get(m, "")
            if "judges split" in why:
                counts["dropped"] += 1
            elif "judge not asked" in why:
                counts["not_asked"] += 1
            elif "call failed" in why:
                counts["failed"] += 1
            elif "found in the reply" in why or "not a grade" in why or "scale" in why:
                counts["unreadable"] += 1
            else:
                counts["other"] += 1
        inc = [v for r in seen if (v := r.scores.get(f"{m}_inconsistent")) is not None]
        out.append(
            JudgeMetricSummary(
                metric=m,
                records=len(seen),
                scored=len(values),
                dropped_share=counts["dropped"] / len(seen) if seen else None,
                mean=sum(values) / len(values) if values else None,
                inconsistent_share=sum(inc) / len(inc) if inc else None,
                **counts,
            )
        )
    return out
