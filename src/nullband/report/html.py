"""A self-contained HTML report with an inline SVG forest plot of segment deltas."""

from __future__ import annotations

from html import escape

from nullband.compare.model import Comparison
from nullband.report._common import Row, facts, rows

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;font-size:14px}td,th{padding:3px 10px;border-bottom:1px solid #ddd}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.PASS{color:#17803d}.FAIL{color:#c0392b}.INCONCLUSIVE{color:#b7791f}.INVALID{color:#8e44ad}
tr.low{color:#999}tr.fail{background:#fdecea}dl{display:grid;grid-template-columns:max-content auto}
dt{font-weight:600;padding-right:1em}
"""


def forest_svg(items: list[Row], width: int = 720) -> str:
    """Deltas with their intervals, one line per row, a dashed line at zero."""
    plotted = [r for r in items if r.delta_value is not None]
    if not plotted:
        return "<p>No deltas to plot.</p>"
    lo = min([r.ci_value[0] if r.ci_value else r.delta_value or 0.0 for r in plotted] + [0.0])
    hi = max([r.ci_value[1] if r.ci_value else r.delta_value or 0.0 for r in plotted] + [0.0])
    span = (hi - lo) or 1.0
    lo, hi = lo - 0.05 * span, hi + 0.05 * span
    left, right, row_h, top = 230, width - 20, 22, 30
    height = top + row_h * len(plotted) + 30

    def x(v: float) -> float:
        return left + (v - lo) / (hi - lo) * (right - left)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="forest plot of deltas">'
    ]
    zx = x(0.0)
    parts.append(
        f'<line x1="{zx:.1f}" y1="{top - 10}" x2="{zx:.1f}" y2="{height - 25}" '
        'stroke="#888" stroke-dasharray="4 3"/>'
    )
    for i, r in enumerate(plotted):
        y = top + i * row_h
        color = "#c0392b" if r.flag == "FAIL" else ("#aaa" if r.flag == "low-n" else "#2c3e50")
        parts.append(
            f'<text x="{left - 8}" y="{y + 4}" text-anchor="end" font-size="12" '
            f'fill="{color}">{escape(r.label)} (n={r.n})</text>'
        )
        if r.ci_value:
            parts.append(
                f'<line x1="{x(r.ci_value[0]):.1f}" y1="{y}" x2="{x(r.ci_value[1]):.1f}" '
                f'y2="{y}" stroke="{color}" stroke-width="2"/>'
            )
        parts.append(
            f'<circle cx="{x(r.delta_value or 0.0):.1f}" cy="{y}" r="4" fill="{color}">'
            f"<title>{escape(r.delta)} {escape(r.ci)}</title></circle>"
        )
    for v in (lo, 0.0, hi):
        parts.append(
            f'<text x="{x(v):.1f}" y="{height - 8}" font-size="11" text-anchor="middle">'
            f"{v * 100:+.1f}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def render_html(cmp: Comparison) -> str:
    """The whole report as one HTML document (no external assets)."""
    table_rows = rows(cmp)
    body = [f"<h1>nullband: {escape(cmp.metric)}</h1>"]
    if cmp.gate is not None:
        g = cmp.gate
        body.append(f'<h2 class="{g.decision}">Gate: {g.decision} (exit {g.exit_code})</h2><ul>')
        body.extend(f"<li>{escape(r)}</li>" for r in g.reasons)
        body.append("</ul>")
    body.append(
        "<dl>"
        + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts(cmp))
        + "</dl>"
    )
    body.append("<h2>Deltas and intervals (points)</h2>")
    body.append(forest_svg(table_rows))
    body.append(
        "<h2>Table</h2><table><tr><th>segment</th><th>n</th><th>before</th><th>after</th>"
        f"<th>delta</th><th>{cmp.confidence:.0%} CI</th><th>p</th><th>Holm p</th>"
        "<th>flag</th></tr>"
    )
    for r in table_rows:
        cls = "fail" if r.flag == "FAIL" else ("low" if r.flag == "low-n" else "")
        cells = [r.n, r.before, r.after, r.delta, r.ci, r.p, r.p_adj]
        body.append(
            f'<tr class="{cls}"><td>{escape(r.label)}</td>'
            + "".join(f'<td class="num">{escape(c)}</td>' for c in cells)
            + f"<td>{escape(r.flag)}</td></tr>"
        )
    body.append("</table>")
    if cmp.warnings:
        body.append(
            "<h2>Warnings</h2><ul>"
            + "".join(f"<li>{escape(w)}</li>" for w in cmp.warnings)
            + "</ul>"
        )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>nullband comparison</title>'
        f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n"
    )
