"""Plain-text renderings of load summaries, comparisons and prefix reports."""

from __future__ import annotations

from nullband.load.compare import LoadComparison
from nullband.load.prefix import PrefixReport
from nullband.load.quantiles import Distribution, QuantileEstimate
from nullband.load.summary import LoadSummary

_SHOW = ("ttft", "ttft_planned", "tpot", "itl_event", "itl_token", "e2e", "max_stall")


def _q(est: QuantileEstimate | None) -> str:
    if est is None or est.value is None:
        return "n/a"
    lo = "-inf" if est.lower is None else f"{est.lower:.1f}"
    hi = "+inf" if est.upper is None else f"{est.upper:.1f}"
    return f"{est.value:.1f} [{lo},{hi}]"


def _row(name: str, d: Distribution, labels: tuple[str, ...]) -> str:
    cells = [_q(d.quantiles.get(lab)) for lab in labels]
    return f"  {name:<13} {d.n:>7}  " + "  ".join(f"{c:<24}" for c in cells)


def render_summary(s: LoadSummary) -> str:
    """The run summary as text: validity first, then latency, throughput, slices, server."""
    out = []
    head = "INVALID - client-limited" if s.validity.verdict == "INVALID" else "VALID"
    out.append(
        f"load run {s.run_id} [{head}]  target {s.target.name} ({s.target.model})  "
        f"{s.schedule.source} seed {s.schedule.seed}"
    )
    rate = s.schedule.offered_rate
    out.append(
        f"  {s.counts['planned']} planned, {s.counts['sent']} sent, {s.counts['ok']} ok; "
        f"offered {'n/a' if rate is None else f'{rate:.2f}'}/s over {s.schedule.duration_s:.1f} s; "
        f"{s.client.procs} client process(es) on {s.client.loop}"
    )
    for chk in s.validity.checks:
        out.append(f"  [{'ok' if chk.passed else 'FAIL'}] {chk.message}")
    if s.validity.suggestion:
        out.append(f"  => {s.validity.suggestion}")
    for w in s.validity.warnings:
        out.append(f"  warning: {w}")
    labels = ("p50", "p90", "p99", "p99.9")
    out.append("latency (ms; point [95% order-statistic CI]):")
    out.append(f"  {'metric':<13} {'n':>7}  " + "  ".join(f"{lab:<24}" for lab in labels))
    for m in _SHOW:
        if m in s.latency_ms:
            out.append(_row(m, s.latency_ms[m], labels))
    t = s.throughput
    g = s.goodput
    out.append(
        "throughput: "
        + (f"{t.output_tokens_per_s:.1f} output tok/s" if t.output_tokens_per_s else "n/a")
        + (f", {t.completed_per_s:.2f} completed req/s" if t.completed_per_s else "")
    )
    slo = ", ".join(f"{k}<={v:g}" for k, v in g.slo.model_dump().items() if v is not None)
    out.append(
        f"goodput ({slo or 'no SLO set'}): {g.good}/{g.total}"
        + (f" = {g.fraction:.1%}" if g.fraction is not None else "")
        + (f", {g.requests_per_s:.2f} req/s" if g.requests_per_s is not None else "")
    )
    for title, table in (("tenant", s.by_tenant), ("prompt tokens", s.by_prompt_bucket)):
        out.append(f"by {title} (ms):")
        for k, b in table.items():
            gp = "n/a" if b.goodput_fraction is None else f"{b.goodput_fraction:.0%}"
            out.append(
                f"  {k:<14} n={b.n:<6} err={b.errors:<4} ttft p50 {_q(b.ttft.quantiles['p50'])}"
                f"  p99 {_q(b.ttft.quantiles['p99'])}  tpot p99 {_q(b.tpot.quantiles['p99'])}"
                f"  good {gp}"
            )
    c = s.client
    out.append(
        f"client: dispatch lag p99 {_q(c.dispatch_lag_ms.quantiles['p99'])} ms, send overhead "
        f"p99 {_q(c.send_overhead_ms.quantiles['p99'])} ms, loop lag p99 "
        f"{_q(c.loop_lag_ms.quantiles['p99'])} ms, CPU "
        + ", ".join(f"{x:.0%}" for x in c.cpu_share)
        + f", peak in flight {c.peak_inflight}"
    )
    if s.server is not None:
        sv = s.server
        out.append(f"server ({sv.url}): {sv.status}")
        if sv.status == "ok":
            cnt = ", ".join(f"{k} {v:g}" for k, v in sv.counters.items())
            out.append(f"  counters: {cnt}")
            if sv.prefix_cache_hit_rate is not None:
                out.append(f"  prefix-cache hit rate {sv.prefix_cache_hit_rate:.1%}")
            for k, h in sv.histograms.items():
                if h.count:
                    out.append(
                        f"  {k:<15} n={h.count:g} mean {h.mean_ms or 0:.1f} ms, p50 "
                        f"{h.p50_ms or 0:.1f}, p99 {h.p99_ms or 0:.1f} (bucket-interpolated)"
                    )
            for k, gs in sv.gauges.items():
                if gs.max is not None:
                    out.append(f"  {k:<15} mean {gs.mean:.3g}, max {gs.max:.3g}")
    return "\n".join(out)


def render_comparison(c: LoadComparison) -> str:
    """The comparison and the gate decision as text."""
    out = [
        f"load comparison: {len(c.baseline_runs)} baseline vs {len(c.candidate_runs)} candidate "
        f"run(s); {c.method}; {c.blocks} windows of {c.block_s or 0:.2f} s, {c.resamples} "
        f"resamples, seed {c.seed}"
    ]
    for d in c.deltas:

        def iv(x: object) -> str:
            v, lo, hi = (getattr(x, k) for k in ("value", "lower", "upper"))
            if v is None:
                return "n/a"
            return f"{v:.2f} [{'?' if lo is None else f'{lo:.2f}'}, {'?' if hi is None else f'{hi:.2f}'}]"

        out.append(
            f"  {d.metric:<10} {d.quantile:<6} baseline {iv(d.baseline)}  candidate "
            f"{iv(d.candidate)}  delta {iv(d.delta)} ms  ratio {iv(d.ratio)}"
        )
    for r in c.rules:
        out.append(f"  [{r.decision}] {r.rule}: {r.message}")
    for w in c.warnings:
        out.append(f"  warning: {w}")
    for why in c.reasons:
        out.append(f"  reason: {why}")
    out.append(f"decision: {c.decision} (exit {c.exit_code})")
    return "\n".join(out)


def render_prefix(p: PrefixReport) -> str:
    """The prefix report as text."""
    out = [f"prefix report: tokenizer {p.tokenizer}; block size {p.block_size}"]
    out.extend(f"  note: {n}" for n in p.notes)
    for name, t in p.tenants.items():
        div = "n/a" if t.divergence_median is None else f"token {t.divergence_median}"
        out.append(
            f"  tenant {name}: {t.n} prompts, mean {t.mean_tokens:.0f} tokens; prompts first "
            f"diverge at {div} (median; min {t.divergence_min}); estimated hit rate "
            f"{t.hit_rate:.1%}"
        )
        for f in t.volatile:
            out.append(
                f"    volatile {f.kind} at token {f.token_position} (e.g. {f.example!r}), "
                f"{f.share:.0%} of prompts"
            )
        if t.fix:
            out.append(f"    fix: {t.fix}")
    return "\n".join(out)
