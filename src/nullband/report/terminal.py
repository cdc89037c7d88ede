"""The terminal report: a rich table of overall and segment rows, then the gate."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from nullband.compare.model import Comparison
from nullband.report._common import facts, rows

_STYLE = {"PASS": "green", "FAIL": "red", "INCONCLUSIVE": "yellow", "INVALID": "magenta"}


def print_table(cmp: Comparison, console: Console) -> None:
    """Print the comparison to a rich console."""
    head = "  ".join(f"{k}: {v}" for k, v in facts(cmp))
    console.print(head, highlight=False, soft_wrap=True)
    t = Table(title=f"{cmp.metric}: baseline vs candidate", show_lines=False)
    for col, just in (
        ("segment", "left"),
        ("n", "right"),
        ("before", "right"),
        ("after", "right"),
        ("delta", "right"),
        (f"{cmp.confidence:.0%} CI", "right"),
        ("p", "right"),
        ("Holm p", "right"),
        ("flag", "left"),
    ):
        t.add_column(col, justify=just, no_wrap=col in ("segment", "delta") or "CI" in col)  # type: ignore[arg-type]
    for r in rows(cmp):
        style = "red" if r.flag == "FAIL" else ("dim" if r.flag == "low-n" else None)
        t.add_row(r.label, r.n, r.before, r.after, r.delta, r.ci, r.p, r.p_adj, r.flag, style=style)
    console.print(t)
    for w in cmp.warnings:
        console.print(f"warning: {w}", style="yellow", highlight=False, soft_wrap=True)
    if cmp.gate is not None:
        g = cmp.gate
        console.print(
            f"gate: {g.decision} (exit {g.exit_code})", style=f"bold {_STYLE[g.decision]}"
        )
        for reason in g.reasons:
            console.print(f"  - {reason}", highlight=False, soft_wrap=True)


def render_table(cmp: Comparison, width: int = 120) -> str:
    """The terminal report as plain text."""
    buf = io.StringIO()
    print_table(cmp, Console(file=buf, width=width, color_system=None, force_terminal=False))
    return buf.getvalue()
