"""Prometheus metrics of a run (``--metrics-port``).

Series are labelled by target and by the model the server said served the call, so a
provider repointing an alias shows up as a new series. The metrics live in their own
registry (not the process-global one) so several runs in one process do not collide.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from nullband.targets.client import CallOutcome

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class RunMetrics:
    """Counters and a latency histogram for one run."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "nullband_requests",
            "Calls finished (all attempts), by target, served model and status.",
            ["target", "served_model", "status"],
            registry=r,
        )
        self.errors = Counter(
            "nullband_errors",
            "Failed attempts, by target and error class (retried or final).",
            ["target", "error_class"],
            registry=r,
        )
        self.retries = Counter(
            "nullband_retries",
            "Attempts after the first, by target.",
            ["target"],
            registry=r,
        )
        self.latency = Histogram(
            "nullband_request_latency_seconds",
            "Latency of the successful attempt, by target and served model.",
            ["target", "served_model"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "nullband_tokens",
            "Tokens billed, by target, served model and kind (input, output, cached).",
            ["target", "served_model", "kind"],
            registry=r,
        )
        self.cost = Counter(
            "nullband_cost_usd",
            "Spend in USD from the target's prices, by target and served model.",
            ["target", "served_model"],
            registry=r,
        )
        self.mismatch = Counter(
            "nullband_model_mismatch",
            "Calls served by a model other than the pinned one, by target and served model.",
            ["target", "served_model"],
            registry=r,
        )
        self._server: Any = None

    def observe(self, target: str, out: CallOutcome) -> None:
        """Count one finished call."""
        served = out.provenance.served or ""
        self.requests.labels(target, served, out.status).inc()
        for a in out.attempts:
            if a.error_class is not None:
                self.errors.labels(target, a.error_class).inc()
        if len(out.attempts) > 1:
            self.retries.labels(target).inc(len(out.attempts) - 1)
        if out.status != "ok":
            return
        if out.latency_s is not None:
            self.latency.labels(target, served).observe(out.latency_s)
        u = out.usage
        self.tokens.labels(target, served, "input").inc(u.input_tokens)
        self.tokens.labels(target, served, "output").inc(u.output_tokens)
        self.tokens.labels(target, served, "cached").inc(u.cached_tokens)
        self.cost.labels(target, served).inc(out.cost_usd)
        if out.provenance.mismatch:
            self.mismatch.labels(target, served).inc()

    def serve(self, port: int, addr: str = "127.0.0.1") -> None:
        """Serve ``/metrics`` on ``addr:port`` from a background thread."""
        self._server, _thread = start_http_server(port, addr=addr, registry=self.registry)

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
