"""Per-tool rows, summaries and paired deltas."""

from __future__ import annotations

import numpy as np
import pytest

from nullband.score.toolcalls.breakdown import compare_tools, summarize, tool_rows

GOLD = [
    {"name": "search", "arguments": {"from": "2026-05-01", "to": "2026-05-31"}},
    {"name": "weather", "arguments": {"city": "Paris"}},
]


def test_rows_per_tool_with_the_four_signals(mkcase, rec):
    case = mkcase(GOLD, segments={"flow": "trip"})
    r = rec(
        [
            ("weather", {"city": "paris"}),
            ("search", {"from": "May 1, 2026", "to": "2026-06-30"}),
            ("weather", {"city": "Rome"}),
        ]
    )
    rows = {row.segments["tool"]: row for row in tool_rows(case, r)}
    assert set(rows) == {"search", "weather"}
    s, w = rows["search"].scores, rows["weather"].scores
    assert s["selection"] == 1.0
    assert s["arg_f1"] == pytest.approx(0.5)
    assert s["length_delta"] == 0.0
    assert s["pass"] == 0.0
    assert w["arg_f1"] == 1.0  # the exact weather call was paired, not the extra one
    assert w["length_delta"] == 1.0
    assert w["pass"] == 0.0  # an extra call of the tool
    assert rows["search"].case_id == "c1::search"
    assert rows["search"].cluster == "c1"
    assert rows["search"].segments["flow"] == "trip"


def test_failed_call_gives_error_rows(mkcase, rec):
    r = rec([]).model_copy(update={"status": "error", "error": "HTTP 500"})
    rows = tool_rows(mkcase(GOLD), r)
    assert {row.segments["tool"] for row in rows} == {"search", "weather"}
    assert all(row.error == "HTTP 500" and not row.scores for row in rows)


def test_summary_means_and_intervals(mkcase, rec):
    rows = []
    rng = np.random.default_rng(3)
    f1s = []
    for i in range(30):
        case = mkcase(GOLD, id=f"c{i}")
        good = bool(rng.random() < 0.6)
        date = "2026-05-31" if good else "2026-05-30"
        f1s.append(1.0 if good else 0.5)
        rows += tool_rows(
            case,
            rec(
                [("search", {"from": "2026-05-01", "to": date}), ("weather", {"city": "Paris"})],
                case_id=f"c{i}",
            ),
        )
    out = {(s.tool, s.metric): s for s in summarize("t", rows, resamples=1000)}
    s = out["search", "arg_f1"]
    assert s.n == 30
    assert s.mean == pytest.approx(np.mean(f1s))
    assert s.ci is not None
    assert s.ci[0] < s.mean < s.ci[1]
    assert out["weather", "arg_f1"].ci == [1.0, 1.0]
    assert out["search", "recovery"].n == 0  # no tool errors: no value, not 0
    assert out["search", "recovery"].mean is None


def test_paired_deltas_flag_small_tools_and_explain_missing_signals(mkcase, rec):
    base, cand = [], []
    # 110 cases, 55 with a wrong date: more than 50 non-zero differences keeps scipy's
    # Wilcoxon (run beside the t test) on its normal approximation, which is fast.
    for i in range(110):
        case = mkcase(GOLD, id=f"c{i}")
        ok = [
            ("search", {"from": "2026-05-01", "to": "2026-05-31"}),
            ("weather", {"city": "Paris"}),
        ]
        bad = [
            ("search", {"from": "2026-05-02", "to": "2026-05-31"}),
            ("weather", {"city": "Paris"}),
        ]
        base += tool_rows(case, rec(ok, case_id=f"c{i}"))
        cand += tool_rows(case, rec(bad if i % 2 else ok, case_id=f"c{i}"))
    deltas = compare_tools(base, cand, metrics=["arg_f1", "recovery"], resamples=500, min_cases=200)
    by = {(d.tool, d.metric): d for d in deltas}
    search = by["search", "arg_f1"]
    assert search.summary is not None
    assert search.summary.delta == pytest.approx(-0.5 * 55 / 110)
    assert search.low_confidence  # 110 paired rows < min_cases 200
    assert search.p_adjusted is None  # shown, not gated
    again = compare_tools(base, cand, metrics=["arg_f1"], resamples=500, min_cases=100)
    search = next(d for d in again if d.tool == "search")
    assert not search.low_confidence
    assert search.p_adjusted is not None
    assert search.p_adjusted >= search.summary.p_value
    assert by["weather", "arg_f1"].summary.delta == 0.0
    assert by["(all)", "recovery"].summary is None
    assert "recovery" in (by["(all)", "recovery"].reason or "")
