"""Reports of a comparison: terminal table, Markdown, JSON, JUnit XML and HTML.

Every report states n, the methods, the confidence level and the seed.
"""

from __future__ import annotations

from typing import Literal

from nullband.compare.model import Comparison
from nullband.report.html import forest_svg, render_html
from nullband.report.junit import render_junit
from nullband.report.markdown import render_markdown
from nullband.report.terminal import print_table, render_table

ReportFormat = Literal["table", "json", "markdown", "junit", "html"]


def render_json(cmp: Comparison) -> str:
    """The comparison as indented JSON (the schema of :class:`Comparison`)."""
    return cmp.model_dump_json(indent=2) + "\n"


def render(cmp: Comparison, fmt: ReportFormat) -> str:
    """The comparison in one of the report formats."""
    renderers = {
        "table": render_table,
        "json": render_json,
        "markdown": render_markdown,
        "junit": render_junit,
        "html": render_html,
    }
    return renderers[fmt](cmp)


__all__ = [
    "ReportFormat",
    "forest_svg",
    "print_table",
    "render",
    "render_html",
    "render_json",
    "render_junit",
    "render_markdown",
    "render_table",
]
