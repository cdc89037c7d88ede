"""Reports: every format carries the facts; JUnit counts; HTML forest plot is self-contained."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from nullband.compare import Comparison, GateConfig, run_comparison
from nullband.records import ModelInfo, ResultRow
from nullband.report import render, render_html, render_junit, render_markdown, render_table


def _rows(model: str, scores: np.ndarray, segs: list[str]) -> list[ResultRow]:
    return [
        ResultRow(
            case_id=f"c{i:04d}",
            scores={"pass": float(s)},
            segments={"adapter": g},
            model=ModelInfo(requested=model, served=model),
        )
        for i, (s, g) in enumerate(zip(scores, segs, strict=True))
    ]


@pytest.fixture(scope="module")
def cmp() -> Comparison:
    rng = np.random.default_rng(77)
    segs = [f"a{i % 6}" for i in range(600)] + ["tiny"] * 5
    a = (rng.random(605) < 0.85).astype(float)
    b = a.copy()
    flip = rng.random(605) < 0.05
    b[flip] = 1 - b[flip]
    a0 = np.array([s == "a0" for s in segs])
    b[a0 & (rng.random(605) < 0.5)] = 0.0  # adapter a0 broke
    gate = GateConfig.model_validate(
        {"rules": [{"kind": "worst_segment", "by": "adapter", "name": "adapter-parity"}]}
    )
    return run_comparison(_rows("m", a, segs), _rows("m", b, segs), gate=gate, seed=3)


def test_text_formats_state_the_facts(cmp: Comparison) -> None:
    for fmt in ("table", "markdown", "junit", "html", "json"):
        text = render(cmp, fmt)  # type: ignore[arg-type]
        assert "605" in text, fmt
        assert "0.95" in text, fmt
        assert "mcnemar-exact" in text, fmt
        assert "seed" in text, fmt


def test_markdown_has_a_row_per_segment_and_flags(cmp: Comparison) -> None:
    md = render_markdown(cmp)
    lines = [ln for ln in md.splitlines() if ln.startswith("| ")]
    assert len(lines) == 1 + 1 + 7  # header, overall, 7 adapters
    a0 = next(ln for ln in lines if ln.startswith("| adapter=a0 "))
    assert "**FAIL**" in a0
    tiny = next(ln for ln in lines if ln.startswith("| adapter=tiny "))
    assert "low-n" in tiny
    assert md.startswith("## nullband gate: **FAIL**")


def test_junit_counts_failures(cmp: Comparison) -> None:
    root = ET.fromstring(render_junit(cmp))
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert int(suite.get("tests", "0")) == len(cases)
    seg_cases = [c for c in cases if (c.get("classname") or "").endswith("adapter-parity")]
    assert len(seg_cases) == 6  # the tiny adapter is not gated
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    assert failed == ["adapter-parity", "adapter=a0"]
    assert int(suite.get("failures", "0")) == 2


def test_html_forest_plot(cmp: Comparison) -> None:
    html = render_html(cmp)
    svg = html[html.index("<svg") : html.index("</svg>") + 6]
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    circles = root.findall(f"{ns}circle")
    assert len(circles) == 1 + 7  # overall + every segment, low-n ones greyed
    red = [c for c in circles if c.get("fill") == "#c0392b"]
    assert len(red) == 1
    assert "<link" not in html
    assert "<script" not in html


def test_terminal_table_lists_gate_reasons(cmp: Comparison) -> None:
    text = render_table(cmp, width=160)
    assert "gate: FAIL (exit 1)" in text
    assert "adapter=a0" in text
