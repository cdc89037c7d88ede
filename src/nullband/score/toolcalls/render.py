"""Tables of per-tool signals and deltas, for the terminal (rich) and as plain rows."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from nullband.score.toolcalls.breakdown import SignalSummary, ToolDelta


def _num(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _ci(ci: Sequence[float] | None) -> str:
    return "" if ci is None else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def signals_table(rows: Sequence[SignalSummary], metrics: Sequence[str]) -> Table:
    """One line per (target, tool); one column per signal: mean [interval] (n)."""
    table = Table(title="Tool-call signals per target and tool (95% cluster-bootstrap intervals)")
    table.add_column("target")
    table.add_column("tool")
    for m in metrics:
        table.add_column(m, justify="right")
    cells: dict[tuple[str, str], dict[str, str]] = {}
    for s in rows:
        text = "—" if s.mean is None else f"{s.mean:.3f} {_ci(s.ci)} n={s.n}"
        cells.setdefault((s.target, s.tool), {})[s.metric] = text
    for (target, tool), by_metric in cells.items():
        table.add_row(target, tool, *(by_metric.get(m, "") for m in metrics))
    return table


def deltas_table(deltas: Sequence[ToolDelta], baseline: str, candidate: str) -> Table:
    """One line per (tool, signal): both means, the paired delta with its interval, p."""
    table = Table(title=f"Per-tool paired deltas: {candidate} - {baseline}")
    for col in ("tool", "signal", "n", baseline, candidate, "delta", "interval", "p", "test"):
        table.add_column(col, justify="left" if col in ("tool", "signal", "test") else "right")
    for d in deltas:
        s = d.summary
        delta = _num(s.delta)
        if s.delta_ci is not None and (s.delta_ci[0] > 0 or s.delta_ci[1] < 0):
            delta = f"[bold]{delta}[/bold]"
        table.add_row(
            d.tool,
            d.metric,
            str(s.n),
            _num(s.baseline_mean),
            _num(s.candidate_mean),
            delta,
            _ci(s.delta_ci),
            _num(s.p_value, 4),
            s.test or (next(iter(s.unavailable.values()), "") if s.unavailable else ""),
        )
    return table
