"""Run a schedule against a target: shard it, send it, scrape the server, summarise.

``procs=1`` runs in this process. ``procs=N`` starts N client processes (spawned, so
each has its own interpreter and event loop); process ``i`` gets requests
``i, i+N, i+2N, ...`` of the same absolute schedule. All share one ``t0`` on
CLOCK_MONOTONIC, which is system-wide on Linux, and their records are merged.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from nullband._ids import new_run_id
from nullband.errors import TargetError, UsageError
from nullband.load import _child
from nullband.load.client import request_body, request_headers
from nullband.load.config import LoadConfig
from nullband.load.engine import (
    ShardPlan,
    ShardResult,
    new_event_loop_runner,
    run_shard,
    set_nice,
)
from nullband.load.metrics import (
    dispatch_lags_ms,
    measured,
    metric_samples,
    send_overheads_ms,
)
from nullband.load.quantiles import describe
from nullband.load.records import RequestRecord
from nullband.load.scrape import Scraper, ServerMetrics, scrape, server_summary
from nullband.load.summary import (
    ClientInfo,
    LoadSummary,
    ScheduleInfo,
    TargetInfo,
    latency_and_slices,
    status_counts,
)
from nullband.load.trace import Schedule
from nullband.load.validity import assess


@dataclass
class LoadResult:
    """A finished load run: its summary and per-request records."""

    summary: LoadSummary
    records: list[RequestRecord]
    scrapes: list[dict[str, Any]] = field(default_factory=list)
    """Server /metrics samples: ``{"phase", "t_s" (after t0), "values"}`` (vLLM names)."""


def metrics_url_for(cfg: LoadConfig) -> str | None:
    """The /metrics URL: as configured; 'auto' means the base URL's root + /metrics."""
    url = cfg.metrics_url
    if url == "auto":
        base = cfg.target.base_url.rstrip("/")
        root = base[: -len("/v1")] if base.endswith("/v1") else base
        return root + "/metrics"
    return url


def _run_procs(plans: list[ShardPlan], start_timeout_s: float = 120.0) -> list[ShardResult]:
    """Run each shard in its own child process on one shared ``t0``."""
    children = [_child.spawn("worker") for _ in plans]
    try:
        for proc, plan in zip(children, plans, strict=True):
            assert proc.stdin is not None
            _child.send(proc.stdin, plan)
        for proc in children:
            assert proc.stdout is not None
            if not _child.wait_readable(proc.stdout, start_timeout_s):
                raise TargetError(f"a client process did not start within {start_timeout_s} s")
            _child.recv(proc.stdout)
        # Every process needs time to open its session before offset 0.
        t0 = time.monotonic_ns() + 500_000_000
        for proc in children:
            assert proc.stdin is not None
            _child.send(proc.stdin, t0)
        results: list[ShardResult] = []
        for proc in children:
            assert proc.stdout is not None
            try:
                results.append(_child.recv(proc.stdout))
            except EOFError:
                raise TargetError(
                    f"client process {len(results)} died (exit code {proc.wait()})"
                ) from None
    finally:
        for proc in children:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    return results


def _warnings(records: list[RequestRecord], latency_ttft: Any, latency_co: Any) -> list[str]:
    out: list[str] = []
    ok = [r for r in records if r.status == "ok"]
    n = len(records)
    if n and (n - len(ok)) / n > 0.001:
        out.append(f"{n - len(ok)} of {n} requests failed ({(n - len(ok)) / n:.1%})")
    mism = [r for r in ok if not r.length_ok]
    if ok and len(mism) / len(ok) > 0.001:
        r = mism[0]
        out.append(
            f"{len(mism)} requests did not generate the pinned output length (e.g. request "
            f"{r.id}: {r.tokens_out} of {r.output_tokens_target} tokens, finish_reason "
            f"{r.finish_reason!r}); the arms of a comparison may do different work"
        )
    chunks = sum(1 for r in ok if r.token_source == "chunks")
    if chunks:
        out.append(
            f"{chunks} requests had no per-chunk usage; one token per non-empty chunk was "
            "assumed for ITL (set continuous_usage, or the server does not support it)"
        )
    a = latency_ttft.value("p99")
    b = latency_co.value("p99")
    if a is not None and b is not None and b - a > 5.0:
        out.append(
            f"TTFT p99 from the planned send exceeds TTFT p99 from the actual send by "
            f"{b - a:.1f} ms: requests left late (coordinated omission)"
        )
    return out


def _overhead_warning(overhead: np.ndarray[Any, np.dtype[np.float64]]) -> list[str]:
    if overhead.size and float(np.quantile(overhead, 0.99)) > 5.0:
        return [
            f"requests took the client {float(np.quantile(overhead, 0.99)):.1f} ms at p99 to "
            "reach the socket after being issued: the client is busy (try --procs)"
        ]
    return []


def run_load(
    cfg: LoadConfig, schedule: Schedule, *, label: str | None = None, procs: int | None = None
) -> LoadResult:
    """Replay ``schedule`` against ``cfg.target`` open-loop and summarise it.

    Raises:
        UsageError: the schedule is empty or procs < 1.
        TargetError: a client process failed to start.
    """
    nproc = procs if procs is not None else cfg.procs
    if nproc < 1:
        raise UsageError(f"--procs must be at least 1, got {nproc}")
    if not schedule.requests:
        raise UsageError("the schedule has no requests")
    target = cfg.target
    url = target.base_url.rstrip("/") + "/chat/completions"
    headers = request_headers(target)
    items = [
        (
            r.idx,
            round(r.offset_s * 1e9),
            request_body(
                target,
                r.prompt,
                r.output_tokens,
                pin=cfg.pin,
                continuous_usage=cfg.continuous_usage,
            ),
        )
        for r in schedule.requests
    ]
    plans = [
        ShardPlan(
            proc=p,
            items=items[p::nproc],
            url=url,
            headers=headers,
            timeout_s=cfg.request_timeout_s,
            max_inflight=cfg.max_inflight,
            nice=cfg.nice,
        )
        for p in range(nproc)
    ]
    murl = metrics_url_for(cfg)
    scraper = Scraper(murl, cfg.scrape_interval_s) if murl else None
    before = scrape(murl) if murl else None
    if scraper is not None:
        scraper.start()
    try:
        if nproc == 1:
            prev, problem = set_nice(cfg.nice)
            try:
                with new_event_loop_runner() as runner:
                    shards = [runner.run(run_shard(plans[0]))]
            finally:
                if prev is not None:
                    set_nice(prev)  # lowering priority back needs no privilege
            if problem:
                shards[0].errors.append(problem)
        else:
            shards = _run_procs(plans)
    finally:
        during, failed = scraper.stop() if scraper is not None else ([], 0)
    server: ServerMetrics | None = None
    series: list[tuple[str, Any]] = []
    if murl is not None and before is not None:
        after = scrape(murl)
        server = server_summary(murl, before, after, during, failed)
        series = [("before", before), *(("during", d) for d in during), ("after", after)]
    res = _assemble(cfg, schedule, shards, server, label)
    t0 = res.summary.t0_monotonic_ns
    res.scrapes = [
        {
            "phase": phase,
            "t_s": (snap["t_ns"] - t0) / 1e9,
            "values": {k: v for k, v in snap["values"].items() if k.startswith("vllm:")},
        }
        for phase, snap in series
        if not isinstance(snap, str)
    ]
    return res


def _assemble(
    cfg: LoadConfig,
    schedule: Schedule,
    shards: list[ShardResult],
    server: ServerMetrics | None,
    label: str | None,
) -> LoadResult:
    plan_by_idx = {r.idx: r for r in schedule.requests}
    t0 = min(s.t0_ns for s in shards)
    records: list[RequestRecord] = []
    for s in shards:
        shift = s.t0_ns - t0  # zero: shards share t0
        for raw in s.raws:
            pr = plan_by_idx[raw["idx"]]
            for k in ("planned_ns", "dispatch_ns", "call_ns", "send_ns", "headers_ns", "first_event_ns",
                      "first_token_ns", "last_token_ns", "end_ns"):  # fmt: skip
                if raw[k] is not None:
                    raw[k] += shift
            records.append(
                RequestRecord(
                    id=pr.id,
                    tenant=pr.tenant,
                    prefix_id=pr.prefix_id,
                    proc=s.proc,
                    warmup=pr.offset_s < cfg.warmup_s,
                    prompt_tokens_target=pr.prompt_tokens,
                    output_tokens_target=pr.output_tokens,
                    **raw,
                )
            )
    records.sort(key=lambda r: r.idx)
    latency, thr, gp, by_tenant, by_bucket = latency_and_slices(records, cfg.slo)
    lags = dispatch_lags_ms(records)
    overhead = send_overheads_ms(records)
    loop_lag = np.asarray([x for s in shards for x in s.loop_lag_ms], dtype=np.float64)
    cpu = [s.cpu_s / s.wall_s if s.wall_s > 0 else 0.0 for s in shards]
    ok = measured(records)
    coalesced = sum(1 for r in ok if r.events_per_read_max > 1)
    sent = np.asarray(
        [r.call_ns / 1e9 for r in records if r.call_ns is not None and r.send_ns is not None]
    )
    validity = assess(
        planned=len(records),
        sent_offsets_s=sent,
        planned_offsets_s=np.asarray([r.planned_ns / 1e9 for r in records]),
        dispatch_lag_ms=lags,
        loop_lag_ms=loop_lag,
        procs=len(shards),
        cap_hit=any(s.cap_hit for s in shards),
        thresholds=cfg.validity,
        cpu_share=max(cpu) if cpu else None,
        warnings=[
            *_warnings(records, latency["ttft"], latency["ttft_planned"]),
            *_overhead_warning(overhead),
            *sorted({e for s in shards for e in s.errors}),
        ],
    )
    src: dict[str, int] = {}
    for r in ok:
        src[r.token_source] = src.get(r.token_source, 0) + 1
    summary = LoadSummary(
        run_id=new_run_id(),
        label=label,
        started_at=datetime.fromtimestamp(min(s.t0_wall_ns for s in shards) / 1e9, tz=UTC),
        t0_monotonic_ns=t0,
        target=TargetInfo(
            name=cfg.target.name, base_url=cfg.target.base_url, model=cfg.target.model
        ),
        schedule=ScheduleInfo(
            source=schedule.source,
            seed=schedule.seed,
            planned=len(schedule.requests),
            duration_s=schedule.duration_s,
            offered_rate=schedule.offered_rate,
            fingerprint=schedule.fingerprint(),
        ),
        pin=cfg.pin,
        warmup_s=cfg.warmup_s,
        counts=status_counts(records),
        token_source=src,
        latency_ms=latency,
        throughput=thr,
        goodput=gp,
        by_tenant=by_tenant,
        by_prompt_bucket=by_bucket,
        client=ClientInfo(
            procs=len(shards),
            loop=shards[0].loop,
            cpu_share=cpu,
            peak_inflight=max(s.peak_inflight for s in shards),
            dispatch_lag_ms=describe(lags),
            send_overhead_ms=describe(overhead),
            loop_lag_ms=describe(loop_lag),
            coalesced_fraction=coalesced / len(ok) if ok else None,
        ),
        validity=validity,
        server=server,
    )
    return LoadResult(summary=summary, records=records)


def resummarize(summary: LoadSummary, records: list[RequestRecord], cfg: LoadConfig) -> LoadSummary:
    """Recompute the measurement part of a summary from its records (e.g. new SLOs)."""
    latency, thr, gp, by_tenant, by_bucket = latency_and_slices(records, cfg.slo)
    return summary.model_copy(
        update={
            "latency_ms": latency,
            "throughput": thr,
            "goodput": gp,
            "by_tenant": by_tenant,
            "by_prompt_bucket": by_bucket,
        }
    )


__all__ = ["LoadResult", "metric_samples", "metrics_url_for", "resummarize", "run_load"]
