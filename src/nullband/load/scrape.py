"""Server-side figures from a Prometheus /metrics endpoint (vLLM metric names).

We scrape once before the run, periodically during it (in a separate process, so
parsing never stalls the client's event loop), and once after. Counters and
histograms are compared after minus before; gauges are summarised over the scrapes
taken during the run. Older vLLM names are mapped to current ones. vLLM's histogram
buckets are coarse: these figures are for diagnosis, the client stays the source of
truth for latency.
"""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel, Field

ALIASES = {
    "vllm:gpu_cache_usage_perc": "vllm:kv_cache_usage_perc",
    "vllm:gpu_prefix_cache_queries_total": "vllm:prefix_cache_queries_total",
    "vllm:gpu_prefix_cache_hits_total": "vllm:prefix_cache_hits_total",
    "vllm:gpu_prefix_cache_queries": "vllm:prefix_cache_queries_total",
    "vllm:gpu_prefix_cache_hits": "vllm:prefix_cache_hits_total",
}
COUNTERS = {
    "prompt_tokens": "vllm:prompt_tokens_total",
    "generation_tokens": "vllm:generation_tokens_total",
    "preemptions": "vllm:num_preemptions_total",
    "requests_succeeded": "vllm:request_success_total",
    "prefix_cache_queries": "vllm:prefix_cache_queries_total",
    "prefix_cache_hits": "vllm:prefix_cache_hits_total",
}
HISTOGRAMS = {
    "ttft": "vllm:time_to_first_token_seconds",
    "itl": "vllm:inter_token_latency_seconds",
    "tpot_request": "vllm:request_time_per_output_token_seconds",
    "tpot_deprecated": "vllm:time_per_output_token_seconds",
    "e2e": "vllm:e2e_request_latency_seconds",
    "queue": "vllm:request_queue_time_seconds",
    "prefill": "vllm:request_prefill_time_seconds",
    "decode": "vllm:request_decode_time_seconds",
}
GAUGES = {
    "running": "vllm:num_requests_running",
    "waiting": "vllm:num_requests_waiting",
    "kv_cache_usage": "vllm:kv_cache_usage_perc",
}

Snapshot = dict[str, Any]
"""{'t_ns': monotonic ns, 'values': {name: value}, 'buckets': {hist: {le: count}}}."""


def parse_metrics(text: str, t_ns: int = 0) -> Snapshot:
    """Parse Prometheus text into summed values per sample name (labels other than ``le``
    are summed: model_name, engine, finished_reason)."""
    values: dict[str, float] = {}
    buckets: dict[str, dict[float, float]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            name = s.name
            if name.endswith("_bucket") and "le" in s.labels:
                base = name[: -len("_bucket")]
                le = float(s.labels["le"])
                hb = buckets.setdefault(base, {})
                hb[le] = hb.get(le, 0.0) + float(s.value)
            else:
                values[name] = values.get(name, 0.0) + float(s.value)
    # Old names count only when the server does not also export the new one.
    for old, new in ALIASES.items():
        if old in values and new not in values:
            values[new] = values[old]
    return {"t_ns": t_ns, "values": values, "buckets": buckets}


def fetch(url: str, timeout_s: float = 2.0) -> str:
    """GET the metrics text.

    Raises:
        OSError: the endpoint could not be read (urllib errors are OSErrors).
    """
    with urllib.request.urlopen(url, timeout=timeout_s) as resp:
        return str(resp.read().decode("utf-8", "replace"))


def scrape(url: str) -> Snapshot | str:
    """One snapshot, or the error text."""
    t = time.monotonic_ns()
    try:
        return parse_metrics(fetch(url), t)
    except (OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"


class Scraper:
    """Scrapes ``url`` every ``interval_s`` in a child process between start() and stop()."""

    def __init__(self, url: str, interval_s: float = 1.0) -> None:
        self.url = url
        self.interval_s = interval_s
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 60.0) -> None:
        """Start the child process and wait until it runs."""
        from nullband.load import _child

        self._proc = _child.spawn("scrape", self.url, str(self.interval_s))
        stdout = self._proc.stdout
        assert stdout is not None
        if not _child.wait_readable(stdout, timeout_s):
            self._proc.kill()
            self._proc = None
            return
        _child.recv(stdout)

    def stop(self) -> tuple[list[Snapshot], int]:
        """Stop it; returns the snapshots taken and the number of failed scrapes."""
        from nullband.load import _child

        proc, self._proc = self._proc, None
        if proc is None or proc.stdin is None or proc.stdout is None:
            return [], 0
        try:
            _child.send(proc.stdin, "stop")
            snaps, errors = _child.recv(proc.stdout)
        except (EOFError, OSError):
            snaps, errors = [], 0
        proc.wait(timeout=10)
        return snaps, errors


class HistogramDelta(BaseModel):
    """A server histogram over the run (after minus before), in ms."""

    count: float = Field(description="Observations during the run.")
    mean_ms: float | None = Field(description="Mean (from _sum/_count); null without data.")
    p50_ms: float | None = Field(description="Median, interpolated inside buckets.")
    p99_ms: float | None = Field(description="p99, interpolated inside buckets (coarse).")


class GaugeSummary(BaseModel):
    """A server gauge over the scrapes during the run."""

    mean: float | None = Field(description="Mean over scrapes; null without scrapes.")
    max: float | None = Field(description="Largest value seen.")


class ServerMetrics(BaseModel):
    """What the server's /metrics said about the run."""

    url: str = Field(description="The scraped URL.")
    status: str = Field(description="'ok', or why the figures are missing.")
    scrapes_during: int = Field(default=0, description="Successful scrapes during the run.")
    failed_scrapes: int = Field(default=0, description="Scrapes that failed.")
    counters: dict[str, float] = Field(
        default_factory=dict, description="Counter deltas (after minus before), by short name."
    )
    prefix_cache_hit_rate: float | None = Field(
        default=None, description="Δhits/Δqueries (tokens); null when no queries were counted."
    )
    histograms: dict[str, HistogramDelta] = Field(
        default_factory=dict, description="Histogram deltas, by short name."
    )
    gauges: dict[str, GaugeSummary] = Field(
        default_factory=dict, description="Gauges during the run, by short name."
    )


def _hist_quantile(cum: list[tuple[float, float]], q: float) -> float | None:
    """Prometheus-style linear interpolation within cumulative buckets (le, count)."""
    if not cum or cum[-1][1] <= 0:
        return None
    rank = q * cum[-1][1]
    prev_le, prev_c = 0.0, 0.0
    for le, c in cum:
        if c >= rank:
            if le == float("inf"):
                return prev_le
            width = c - prev_c
            frac = (rank - prev_c) / width if width > 0 else 1.0
            return prev_le + (le - prev_le) * frac
        prev_le, prev_c = le, c
    return prev_le


def server_summary(
    url: str, before: Snapshot | str, after: Snapshot | str, during: list[Snapshot], failed: int
) -> ServerMetrics:
    """Deltas and gauge summaries; says why when figures are missing."""
    if isinstance(before, str) or isinstance(after, str):
        why = before if isinstance(before, str) else after
        return ServerMetrics(url=url, status=f"not available: {why}", failed_scrapes=failed)
    bv, av = before["values"], after["values"]
    counters = {k: av[n] - bv.get(n, 0.0) for k, n in COUNTERS.items() if n in av}
    q, h = counters.get("prefix_cache_queries"), counters.get("prefix_cache_hits")
    hit_rate = h / q if q and h is not None and q > 0 else None
    hists: dict[str, HistogramDelta] = {}
    for key, name in HISTOGRAMS.items():
        ab = after["buckets"].get(name)
        if ab is None:
            continue
        bb = before["buckets"].get(name, {})
        cum = sorted((le, c - bb.get(le, 0.0)) for le, c in ab.items())
        cnt = av.get(name + "_count", 0.0) - bv.get(name + "_count", 0.0)
        tot = av.get(name + "_sum", 0.0) - bv.get(name + "_sum", 0.0)
        p50, p99 = _hist_quantile(cum, 0.5), _hist_quantile(cum, 0.99)
        hists[key] = HistogramDelta(
            count=cnt,
            mean_ms=tot / cnt * 1e3 if cnt > 0 else None,
            p50_ms=None if p50 is None else p50 * 1e3,
            p99_ms=None if p99 is None else p99 * 1e3,
        )
    gauges: dict[str, GaugeSummary] = {}
    for key, name in GAUGES.items():
        vals = [s["values"][name] for s in during if name in s["values"]]
        gauges[key] = GaugeSummary(
            mean=sum(vals) / len(vals) if vals else None, max=max(vals) if vals else None
        )
    return ServerMetrics(
        url=url,
        status="ok",
        scrapes_during=len(during),
        failed_scrapes=failed,
        counters=counters,
        prefix_cache_hit_rate=hit_rate,
        histograms=hists,
        gauges=gauges,
    )
