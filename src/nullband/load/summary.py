"""The run summary: latency distributions, throughput, goodput, breakdowns, validity.

:func:`summarize` is a pure function of the per-request records plus run metadata, so a
summary can be recomputed offline from ``requests.jsonl`` (for example with other SLOs).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from nullband.load.config import SLO
from nullband.load.metrics import (
    METRICS,
    RequestMetrics,
    measured,
    metric_samples,
    prompt_bucket,
    request_metrics,
)
from nullband.load.quantiles import Distribution, describe
from nullband.load.records import RequestRecord
from nullband.load.scrape import ServerMetrics
from nullband.load.validity import ValidityReport

SUMMARY_SCHEMA_VERSION = 1


class TargetInfo(BaseModel):
    """The endpoint (never its key)."""

    name: str = Field(description="Target name.")
    base_url: str = Field(description="Base URL.")
    model: str = Field(description="Pinned model string.")


class ScheduleInfo(BaseModel):
    """The schedule that was replayed."""

    source: str = Field(description="'trace:<file>' or 'synthetic:<law>@<rate>/s'.")
    seed: int = Field(description="Seed of arrivals and prompts.")
    planned: int = Field(description="Requests in the schedule.")
    duration_s: float = Field(description="Planned offset of the last request.")
    offered_rate: float | None = Field(description="Offered arrivals per second.")
    fingerprint: str = Field(description="Hash of the schedule; equal for aligned A/B runs.")


class ClientInfo(BaseModel):
    """How the client behaved."""

    procs: int = Field(description="Client processes.")
    loop: str = Field(
        description="Event loop: 'asyncio-precise' (microsecond timers, the default), "
        "'asyncio' or 'uvloop'."
    )
    cpu_share: list[float] = Field(description="CPU seconds / wall seconds, per process.")
    peak_inflight: int = Field(description="Most requests in flight in one process.")
    dispatch_lag_ms: Distribution = Field(description="issued - planned, all requests.")
    send_overhead_ms: Distribution = Field(
        description="issued -> body on the socket (client time excluded from TTFT)."
    )
    loop_lag_ms: Distribution = Field(description="Overshoot of a 10 ms loop probe.")
    coalesced_fraction: float | None = Field(
        description="Share of requests where one socket read held 2+ token events."
    )


class Throughput(BaseModel):
    """Rates over the measurement window (first planned to last planned send)."""

    window_s: float | None = Field(description="Length of the window; null for < 2 requests.")
    output_tokens_per_s: float | None = Field(
        description="Output tokens whose event time fell inside the window, per second."
    )
    completed_per_s: float | None = Field(description="Successful requests / their span.")
    total_output_tokens: int = Field(description="Output tokens of all successful requests.")


class Goodput(BaseModel):
    """Requests meeting every SLO that is set (failed requests are never good)."""

    slo: SLO = Field(description="The SLOs applied.")
    good: int = Field(description="Requests meeting every SLO.")
    total: int = Field(description="Measured requests (warm-up excluded, failures included).")
    fraction: float | None = Field(description="good / total; null without requests.")
    requests_per_s: float | None = Field(description="good requests per second of window.")
    tokens_per_s: float | None = Field(description="Output tokens of good requests per second.")


class Breakdown(BaseModel):
    """Figures for one slice (a tenant or a prompt-length bucket)."""

    n: int = Field(description="Measured requests in the slice.")
    errors: int = Field(description="Failed requests in the slice.")
    ttft: Distribution = Field(description="TTFT (ms).")
    tpot: Distribution = Field(description="TPOT (ms).")
    e2e: Distribution = Field(description="End-to-end latency (ms).")
    goodput_fraction: float | None = Field(description="Share of good requests.")


class LoadSummary(BaseModel):
    """summary.json of one load run."""

    schema_version: int = Field(default=SUMMARY_SCHEMA_VERSION, description="Schema version.")
    kind: Literal["load_run"] = Field(default="load_run", description="File kind.")
    run_id: str = Field(description="Sortable run id.")
    label: str | None = Field(default=None, description="Arm label ('baseline', 'candidate').")
    started_at: datetime = Field(description="UTC wall time of t0 (schedule offset 0).")
    t0_monotonic_ns: int = Field(description="CLOCK_MONOTONIC of t0 (for joining logs).")
    target: TargetInfo = Field(description="The endpoint.")
    schedule: ScheduleInfo = Field(description="The replayed schedule.")
    pin: str = Field(description="How output lengths were pinned.")
    warmup_s: float = Field(description="Warm-up excluded from measurement.")
    counts: dict[str, int] = Field(
        description="planned, sent, measured, ok, length_mismatch, "
        "and one entry per failure status."
    )
    token_source: dict[str, int] = Field(description="Records per token-count source.")
    latency_ms: dict[str, Distribution] = Field(description="Per metric (see docs/load.md).")
    throughput: Throughput = Field(description="Token and request rates.")
    goodput: Goodput = Field(description="Goodput under the SLOs.")
    by_tenant: dict[str, Breakdown] = Field(description="Per tenant.")
    by_prompt_bucket: dict[str, Breakdown] = Field(description="Per prompt-length bucket.")
    client: ClientInfo = Field(description="Client health.")
    validity: ValidityReport = Field(description="Whether the client kept up.")
    server: ServerMetrics | None = Field(default=None, description="Server /metrics figures.")


def is_good(r: RequestRecord, d: RequestMetrics | None, slo: SLO) -> bool:
    """True when the request succeeded and met every SLO that is set."""
    if r.status != "ok" or d is None:
        return False
    pairs = (
        (slo.ttft_ms, d.ttft),
        (slo.tpot_ms, d.tpot if d.tpot is not None else 0.0),
        (slo.e2e_ms, d.e2e),
        (slo.max_stall_ms, d.max_stall if d.max_stall is not None else 0.0),
    )
    return all(lim is None or (v is not None and v <= lim) for lim, v in pairs)


def _breakdown(
    recs: Sequence[RequestRecord], derived: dict[int, RequestMetrics], slo: SLO
) -> Breakdown:
    ok = [r for r in recs if r.status == "ok"]
    ds = [derived[r.idx] for r in ok]
    good = sum(is_good(r, derived.get(r.idx), slo) for r in recs)
    return Breakdown(
        n=len(recs),
        errors=len(recs) - len(ok),
        ttft=describe(metric_samples(ok, "ttft", ds), (0.5, 0.99)),
        tpot=describe(metric_samples(ok, "tpot", ds), (0.5, 0.99)),
        e2e=describe(metric_samples(ok, "e2e", ds), (0.5, 0.99)),
        goodput_fraction=good / len(recs) if recs else None,
    )


def latency_and_slices(
    records: Sequence[RequestRecord], slo: SLO
) -> tuple[
    dict[str, Distribution], Throughput, Goodput, dict[str, Breakdown], dict[str, Breakdown]
]:
    """The measurement part of a summary (everything that does not need run metadata)."""
    meas_all = [r for r in records if not r.warmup]
    ok = measured(records)
    derived = {r.idx: request_metrics(r) for r in ok}
    ds = [derived[r.idx] for r in ok]
    latency = {m: describe(metric_samples(ok, m, ds)) for m in METRICS}
    planned = np.asarray([r.planned_ns for r in meas_all], dtype=np.float64)
    window = (float(planned.max()) - float(planned.min())) / 1e9 if planned.size >= 2 else None
    tokens_in = 0
    if window:
        lo, hi = float(planned.min()), float(planned.max())
        for r in ok:
            assert r.send_ns is not None
            for us, d in zip(r.event_us, r.event_tokens, strict=False):
                if d > 0 and lo <= r.send_ns + us * 1000 <= hi:
                    tokens_in += d
    ends = [r.end_ns for r in ok if r.end_ns is not None]
    sends = [r.send_ns for r in ok if r.send_ns is not None]
    span = (max(ends) - min(sends)) / 1e9 if ends and sends else None
    total_out = sum(r.tokens_out for r in ok)
    thr = Throughput(
        window_s=window,
        output_tokens_per_s=tokens_in / window if window else None,
        completed_per_s=len(ok) / span if span else None,
        total_output_tokens=total_out,
    )
    good = [r for r in meas_all if is_good(r, derived.get(r.idx), slo)]
    gp = Goodput(
        slo=slo,
        good=len(good),
        total=len(meas_all),
        fraction=len(good) / len(meas_all) if meas_all else None,
        requests_per_s=len(good) / window if window else None,
        tokens_per_s=sum(r.tokens_out for r in good) / window if window else None,
    )
    tenants: dict[str, list[RequestRecord]] = defaultdict(list)
    buckets: dict[str, list[RequestRecord]] = defaultdict(list)
    for r in meas_all:
        tenants[r.tenant].append(r)
        buckets[prompt_bucket(r.prompt_tokens or r.prompt_tokens_target)].append(r)
    by_tenant = {k: _breakdown(v, derived, slo) for k, v in sorted(tenants.items())}
    by_bucket = {
        k: _breakdown(v, derived, slo)
        for k, v in sorted(buckets.items(), key=lambda kv: int(kv[0].split("-")[0]))
    }
    return latency, thr, gp, by_tenant, by_bucket


def status_counts(records: Sequence[RequestRecord]) -> dict[str, int]:
    """planned, sent, measured, ok, length_mismatch and failures by status."""
    c = Counter(r.status for r in records)
    ok = [r for r in records if r.status == "ok"]
    out = {
        "planned": len(records),
        "sent": sum(1 for r in records if r.send_ns is not None),
        "measured": sum(1 for r in records if not r.warmup),
        "ok": c.get("ok", 0),
        "length_mismatch": sum(1 for r in ok if not r.length_ok),
    }
    for k, v in sorted(c.items()):
        if k != "ok":
            out[k] = v
    return out
