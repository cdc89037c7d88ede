"""Per-request latency metrics, named and defined once (see docs/load.md).

* ``ttft``: first token-bearing event minus the actual send. ``ttft_planned``: the same
  from the planned send (corrected for coordinated omission, wrk2-style).
* ``ttfe``: first event with choices (may be a role-only chunk) minus the send.
* ``tpot``: (last token - first token) / (output tokens - 1); first token excluded
  (vLLM, genai-perf and inference-perf use this definition). Needs >= 2 tokens.
* ``itl_event``: each gap between consecutive token-bearing events, pooled (vLLM's ITL).
* ``itl_token``: each such gap divided by the event's tokens, repeated once per token.
* ``e2e``: last token minus the send; ``e2e_planned`` from the planned send.
* ``max_stall``: the largest ``itl_event`` gap of a request.
* ``norm_latency``: e2e / output tokens (what GuideLLM calls TPOT; it includes TTFT).
* ``dispatch_lag``: when the client issued the request minus its planned send time.
* ``send_overhead``: from issuing the request to its body reaching the socket (client
  time: building the request, a pooled connection, loop turns). TTFT and E2E start at the
  socket write, so this client time is not counted as server latency.

All values are in milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from nullband.load.records import RequestRecord

METRICS: tuple[str, ...] = (
    "ttft",
    "ttft_planned",
    "ttfe",
    "tpot",
    "itl_event",
    "itl_token",
    "e2e",
    "e2e_planned",
    "max_stall",
    "norm_latency",
)
"""Latency metrics a summary reports (ms)."""

PER_REQUEST = ("ttft", "ttft_planned", "ttfe", "tpot", "e2e", "e2e_planned", "max_stall")


@dataclass
class RequestMetrics:
    """Derived figures of one successful request (ms; None when undefined)."""

    ttft: float | None
    ttft_planned: float | None
    ttfe: float | None
    tpot: float | None
    e2e: float | None
    e2e_planned: float | None
    max_stall: float | None
    norm_latency: float | None
    itl_event: list[float] = field(default_factory=list)
    itl_token: list[float] = field(default_factory=list)


def _ms(a: int | None, b: int | None) -> float | None:
    return None if a is None or b is None else (a - b) / 1e6


def request_metrics(r: RequestRecord) -> RequestMetrics:
    """Derived latency figures of one request (use it on status 'ok' records)."""
    itl_e: list[float] = []
    itl_t: list[float] = []
    prev: int | None = None
    for us, d in zip(r.event_us, r.event_tokens, strict=False):
        if d <= 0:
            continue
        if prev is not None:
            gap = (us - prev) / 1e3
            itl_e.append(gap)
            itl_t.extend([gap / d] * d)
        prev = us
    n_out = r.tokens_out
    first, last = r.first_token_ns, r.last_token_ns
    tpot = (last - first) / 1e6 / (n_out - 1) if first and last and n_out > 1 else None
    e2e = _ms(last, r.send_ns)
    return RequestMetrics(
        ttft=_ms(first, r.send_ns),
        ttft_planned=_ms(first, r.planned_ns),
        ttfe=_ms(r.first_event_ns, r.send_ns),
        tpot=tpot,
        e2e=e2e,
        e2e_planned=_ms(last, r.planned_ns),
        max_stall=max(itl_e) if itl_e else None,
        norm_latency=e2e / n_out if e2e is not None and n_out > 0 else None,
        itl_event=itl_e,
        itl_token=itl_t,
    )


def measured(records: Iterable[RequestRecord]) -> list[RequestRecord]:
    """Records that count for latency: not warm-up and status 'ok'."""
    return [r for r in records if not r.warmup and r.status == "ok"]


def metric_samples(
    records: Sequence[RequestRecord], metric: str, derived: Sequence[RequestMetrics] | None = None
) -> NDArray[np.float64]:
    """Pooled samples of one metric over records (ms). Pass ``derived`` to reuse work.

    Raises:
        ValueError: unknown metric name.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
    ds = derived if derived is not None else [request_metrics(r) for r in records]
    if metric in ("itl_event", "itl_token"):
        parts = [getattr(d, metric) for d in ds]
        flat = [x for p in parts for x in p]
        return np.asarray(flat, dtype=np.float64)
    vals = [getattr(d, metric) for d in ds]
    return np.asarray([v for v in vals if v is not None], dtype=np.float64)


def dispatch_lags_ms(records: Iterable[RequestRecord]) -> NDArray[np.float64]:
    """call - planned (ms) of every request that was issued (warm-up included)."""
    return np.asarray(
        [
            (r.call_ns - r.planned_ns) / 1e6
            for r in records
            if r.call_ns is not None and r.send_ns is not None
        ],
        dtype=np.float64,
    )


def send_overheads_ms(records: Iterable[RequestRecord]) -> NDArray[np.float64]:
    """send - call (ms): how long the client took to get each request onto the socket."""
    return np.asarray(
        [
            (r.send_ns - r.call_ns) / 1e6
            for r in records
            if r.call_ns is not None and r.send_ns is not None
        ],
        dtype=np.float64,
    )


def prompt_bucket(tokens: int) -> str:
    """Power-of-two prompt-length bucket: '1-128', '129-256', '257-512', ..."""
    hi = 128
    while tokens > hi:
        hi *= 2
    lo = 1 if hi == 128 else hi // 2 + 1
    return f"{lo}-{hi}"
