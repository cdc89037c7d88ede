"""Markdown for a pull-request comment."""

from __future__ import annotations

from nullband.compare.model import Comparison
from nullband.report._common import facts, rows

_ICON = {"PASS": "PASS", "FAIL": "FAIL", "INCONCLUSIVE": "INCONCLUSIVE", "INVALID": "INVALID"}


def render_markdown(cmp: Comparison) -> str:
    """The comparison as GitHub-flavoured Markdown."""
    out: list[str] = []
    if cmp.gate is not None:
        out.append(f"## nullband gate: **{_ICON[cmp.gate.decision]}** (exit {cmp.gate.exit_code})")
        out.append("")
        out.extend(f"- {r}" for r in cmp.gate.reasons)
    else:
        out.append(f"## nullband comparison: `{cmp.metric}`")
    out.append("")
    out.append(" | ".join(f"**{k}**: {v}" for k, v in facts(cmp)))
    out.append("")
    out.append(
        f"| segment | n | before | after | delta | {cmp.confidence:.0%} CI | p | Holm p | flag |"
    )
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows(cmp):
        flag = {"FAIL": "**FAIL**", "low-n": "low-n (not gated)"}.get(r.flag, "")
        out.append(
            f"| {r.label} | {r.n} | {r.before} | {r.after} | {r.delta} | {r.ci} | {r.p} | "
            f"{r.p_adj} | {flag} |"
        )
    if cmp.warnings:
        out.append("")
        out.extend(f"> warning: {w}" for w in cmp.warnings)
    out.append("")
    return "\n".join(out)
