"""Shared pieces of every report: the header facts and row formatting."""

from __future__ import annotations

from dataclasses import dataclass

from nullband.compare.model import Comparison
from nullband.compare.wording import is_rate
from nullband.stats.paired import PairedSummary


@dataclass(frozen=True)
class Row:
    """One table row (overall, weighted or a segment) as display strings."""

    label: str
    n: str
    before: str
    after: str
    delta: str
    ci: str
    p: str
    p_adj: str
    flag: str
    delta_value: float | None
    ci_value: list[float] | None


def fmt_mean(v: float | None, rate: bool) -> str:
    """0.7131 -> '71.3%' for rates; 4 significant digits otherwise."""
    if v is None:
        return "n/a"
    return f"{v * 100:.1f}%" if rate else f"{v:.4g}"


def fmt_delta(v: float | None, rate: bool) -> str:
    """0.0214 -> '+2.1 pt'."""
    if v is None:
        return "n/a"
    return f"{v * 100:+.1f} pt" if rate else f"{v:+.4g}"


def fmt_ci(ci: list[float] | None, rate: bool) -> str:
    """[-0.004, 0.046] -> '[-0.4, +4.6]'."""
    if ci is None:
        return "n/a"
    if rate:
        return f"[{ci[0] * 100:+.1f}, {ci[1] * 100:+.1f}]"
    return f"[{ci[0]:+.4g}, {ci[1]:+.4g}]"


def fmt_p(p: float | None) -> str:
    """p-values to 3 significant digits, '<0.001' below."""
    if p is None:
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3g}"


def _flag(s: PairedSummary, low: bool, failed: bool) -> str:
    if failed:
        return "FAIL"
    if low:
        return "low-n"
    return ""


def rows(cmp: Comparison) -> list[Row]:
    """Overall, weighted and segment rows in display order."""
    failed = {
        (c.dimension, c.segment)
        for r in (cmp.gate.rules if cmp.gate else [])
        for c in r.segments
        if c.decision == "FAIL"
    }
    out = []
    items: list[tuple[str, PairedSummary, bool, str | None, tuple[str, str] | None]] = [
        ("overall", cmp.overall, False, None, None)
    ]
    if cmp.weighted is not None:
        items.append(("weighted", cmp.weighted, False, None, None))
    for seg in cmp.segments:
        items.append(
            (
                f"{seg.dimension}={seg.segment}",
                seg,
                seg.low_confidence,
                fmt_p(seg.p_adjusted),
                (seg.dimension, seg.segment),
            )
        )
    for label, s, low, padj, key in items:
        rate = is_rate(s)
        out.append(
            Row(
                label=label,
                n=str(s.n),
                before=fmt_mean(s.baseline_mean, rate),
                after=fmt_mean(s.candidate_mean, rate),
                delta=fmt_delta(s.delta, rate),
                ci=fmt_ci(s.delta_ci, rate),
                p=fmt_p(s.p_value),
                p_adj=padj or "-",
                flag=_flag(s, low, key in failed),
                delta_value=s.delta,
                ci_value=s.delta_ci,
            )
        )
    return out


def facts(cmp: Comparison) -> list[tuple[str, str]]:
    """The facts every report states: n, methods, confidence level and seed."""
    o = cmp.overall
    method = f"{o.ci_method}; test {o.test or 'none'}; means {o.mean_ci_method}"
    out = [
        ("metric", cmp.metric),
        ("baseline", f"{cmp.baseline.label} ({cmp.baseline.rows} rows)"),
        ("candidate", f"{cmp.candidate.label} ({cmp.candidate.rows} rows)"),
        ("n", f"{o.n} paired cases" + (f" in {o.n_clusters} clusters" if o.n_clusters else "")),
        ("method", method),
        ("confidence", f"{cmp.confidence:g}"),
        ("seed", str(cmp.seed)),
        ("resamples", str(cmp.resamples)),
        ("min cases per segment", str(cmp.min_cases)),
    ]
    rate = is_rate(o)
    if o.delta_ci_exact is not None:
        out.append(("exact-bootstrap CI (B = infinity)", fmt_ci(o.delta_ci_exact, rate)))
    if o.mde is not None:
        out.append(("MDE (80% power)", fmt_delta(o.mde, rate).lstrip("+")))
    return out
