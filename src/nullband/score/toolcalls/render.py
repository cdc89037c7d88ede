"""Tables of per-tool signals and deltas, for the terminal (rich) and as plain rows."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from nullband.score.toolcalls.breakdown import SignalSummary, ToolDelta


def _num(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _ci(ci: Sequence[float] | None) -> str:
    return "" if ci is None else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def signals_table(
    rows: Sequence[SignalSummary], metrics: Sequence[str], *, dim: str = "tool"
) -> Table:
    """One line per (target, tool); one column per signal: mean [interval] (n)."""
    level = f"{rows[0].ci_level:.0%} " if rows and rows[0].ci_level else ""
    table = Table(title=f"Signals per target and {dim} ({level}cluster-bootstrap intervals)")
    table.add_column("target")
    table.add_column(dim)
    for m in metrics:
        table.add_column(m, justify="right")
    cells: dict[tuple[str, str], dict[str, str]] = {}
    for s in rows:
        text = "—" if s.mean is None else f"{s.mean:.3f} {_ci(s.ci)} n={s.n}"
        cells.setdefault((s.target, s.tool), {})[s.metric] = text
    for (target, tool), by_metric in cells.items():
        table.add_row(target, tool, *(by_metric.get(m, "") for m in metrics))
    return table


def deltas_table(
    deltas: Sequence[ToolDelta], baseline: str, candidate: str, *, dim: str = "tool"
) -> Table:
    """One line per (signal, tool): both means, the paired delta with its interval, p and
    the Holm-adjusted p across tools. A bold delta's interval excludes 0; "(low n)" marks
    tools with fewer paired rows than min_cases."""
    table = Table(title=f"Per-tool paired deltas: {candidate} - {baseline}")
    cols = (
        "signal",
        "tool",
        "n",
        baseline,
        candidate,
        "delta",
        "interval",
        "p",
        "p (Holm)",
        "test",
    )
    for col in cols:
        table.add_column(col, justify="left" if col in (dim, "signal", "test") else "right")
    for d in deltas:
        s = d.summary
        if s is None:
            table.add_row(d.metric, d.tool, "0", "", "", "—", "", "", "", d.reason or "")
            continue
        delta = _num(s.delta)
        if s.delta_ci is not None and (s.delta_ci[0] > 0 or s.delta_ci[1] < 0):
            delta = f"[bold]{delta}[/bold]"
        n = f"{s.n} (low n)" if d.low_confidence else str(s.n)
        table.add_row(
            d.metric,
            d.tool,
            n,
            _num(s.baseline_mean),
            _num(s.candidate_mean),
            delta,
            _ci(s.delta_ci),
            _num(s.p_value, 4),
            _num(d.p_adjusted, 4),
            s.test or (next(iter(s.unavailable.values()), "") if s.unavailable else ""),
        )
    return table
