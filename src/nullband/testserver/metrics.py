"""Server-side metrics in Prometheus text format, with vLLM's metric names.

Hand-rolled instead of prometheus_client so an observation costs a bisect and two adds;
the test server's hot path must stay cheap. Names follow vLLM's v1 engine, plus the v0
``vllm:gpu_cache_usage_perc`` and ``vllm:time_per_output_token_seconds`` so scrapers of
either generation find them.
"""

from __future__ import annotations

import bisect
import time

TTFT_BUCKETS = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
    10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
)  # fmt: skip
ITL_BUCKETS = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
    10.0, 20.0, 40.0, 80.0,
)  # fmt: skip
E2E_BUCKETS = (
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0,
    120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0,
)  # fmt: skip
TOKEN_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)


class Histogram:
    """A cumulative-bucket histogram."""

    __slots__ = ("bounds", "count", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        """Add one observation."""
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def render(self, name: str, labels: str, out: list[str]) -> None:
        """Append the Prometheus lines of this histogram to ``out``."""
        cum = 0
        for bound, c in zip(self.bounds, self.counts, strict=False):
            cum += c
            out.append(f'{name}_bucket{{{labels},le="{bound}"}} {cum}')
        out.append(f'{name}_bucket{{{labels},le="+Inf"}} {self.count}')
        out.append(f"{name}_sum{{{labels}}} {self.sum}")
        out.append(f"{name}_count{{{labels}}} {self.count}")


_HISTS = {
    "vllm:time_to_first_token_seconds": ("Time to first token in seconds.", TTFT_BUCKETS),
    "vllm:inter_token_latency_seconds": ("Inter-token latency in seconds.", ITL_BUCKETS),
    "vllm:time_per_output_token_seconds": ("Time per output token (v0 name).", ITL_BUCKETS),
    "vllm:request_time_per_output_token_seconds": ("Per-request TPOT.", ITL_BUCKETS),
    "vllm:e2e_request_latency_seconds": ("End-to-end request latency.", E2E_BUCKETS),
    "vllm:request_queue_time_seconds": ("Time waiting in the queue.", E2E_BUCKETS),
    "vllm:request_prompt_tokens": ("Prompt tokens per request.", TOKEN_BUCKETS),
    "vllm:request_generation_tokens": ("Generated tokens per request.", TOKEN_BUCKETS),
}


class ModelMetrics:
    """The metrics of one served model name."""

    def __init__(self) -> None:
        self.hists = {name: Histogram(b) for name, (_, b) in _HISTS.items()}
        self.prompt_tokens = 0
        self.generation_tokens = 0
        self.success: dict[str, int] = {}


class ServerMetrics:
    """vLLM-style metrics: gauges for running/waiting/KV cache, counters and histograms.

    Only the server's event loop writes; ``render`` runs on that loop too.
    """

    def __init__(self, kv_cache_tokens: int) -> None:
        self.kv_cache_tokens = kv_cache_tokens
        self.running = 0
        self.waiting = 0
        self.kv_tokens_in_use = 0
        self.models: dict[str, ModelMetrics] = {}
        self.started = time.time()

    def model(self, name: str) -> ModelMetrics:
        """The metrics block of ``name`` (created on first use)."""
        m = self.models.get(name)
        if m is None:
            m = self.models[name] = ModelMetrics()
        return m

    def finish(
        self,
        model: str,
        *,
        finish_reason: str,
        prompt_tokens: int,
        output_tokens: int,
        ttft_s: float,
        e2e_s: float,
        queue_s: float,
    ) -> None:
        """Record one finished request."""
        m = self.model(model)
        h = m.hists
        m.prompt_tokens += prompt_tokens
        m.generation_tokens += output_tokens
        m.success[finish_reason] = m.success.get(finish_reason, 0) + 1
        h["vllm:time_to_first_token_seconds"].observe(ttft_s)
        h["vllm:e2e_request_latency_seconds"].observe(e2e_s)
        h["vllm:request_queue_time_seconds"].observe(queue_s)
        h["vllm:request_prompt_tokens"].observe(prompt_tokens)
        h["vllm:request_generation_tokens"].observe(output_tokens)
        if output_tokens > 1:
            tpot = (e2e_s - ttft_s) / (output_tokens - 1)
            h["vllm:request_time_per_output_token_seconds"].observe(tpot)

    def observe_itl(self, model: str, gap_s: float) -> None:
        """Record one gap between successive tokens of a stream."""
        h = self.model(model).hists
        h["vllm:inter_token_latency_seconds"].observe(gap_s)
        h["vllm:time_per_output_token_seconds"].observe(gap_s)

    def render(self, default_model: str) -> str:
        """The Prometheus text exposition."""
        out: list[str] = []
        usage = min(1.0, self.kv_tokens_in_use / self.kv_cache_tokens)
        names = sorted(self.models) or [default_model]
        gauges = (
            ("vllm:num_requests_running", "Requests in decode.", self.running),
            ("vllm:num_requests_waiting", "Requests waiting in the queue.", self.waiting),
            ("vllm:kv_cache_usage_perc", "KV-cache usage, 1 = full.", usage),
            ("vllm:gpu_cache_usage_perc", "KV-cache usage, 1 = full (v0 name).", usage),
        )
        for name, help_text, value in gauges:
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} gauge")
            for model in names:
                out.append(f'{name}{{engine="0",model_name="{model}"}} {value}')
        counters = (
            ("vllm:prompt_tokens", "Prompt tokens processed.", lambda m: m.prompt_tokens),
            ("vllm:generation_tokens", "Tokens generated.", lambda m: m.generation_tokens),
            ("vllm:num_preemptions", "Preemptions.", lambda m: 0),
            ("vllm:prefix_cache_queries", "Prefix-cache queries (tokens).", lambda m: 0),
            ("vllm:prefix_cache_hits", "Prefix-cache hits (tokens).", lambda m: 0),
        )
        for name, help_text, get in counters:
            out.append(f"# HELP {name}_total {help_text}")
            out.append(f"# TYPE {name}_total counter")
            for model in sorted(self.models):
                out.append(
                    f'{name}_total{{engine="0",model_name="{model}"}} {get(self.models[model])}'
                )
        out.append("# HELP vllm:request_success_total Finished requests by finish reason.")
        out.append("# TYPE vllm:request_success_total counter")
        for model in sorted(self.models):
            for reason, n in sorted(self.models[model].success.items()):
                out.append(
                    f'vllm:request_success_total{{engine="0",finished_reason="{reason}",'
                    f'model_name="{model}"}} {n}'
                )
        for name, (help_text, _) in _HISTS.items():
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} histogram")
            for model in sorted(self.models):
                labels = f'engine="0",model_name="{model}"'
                self.models[model].hists[name].render(name, labels, out)
        out.append("# HELP process_start_time_seconds Start time of the process.")
        out.append("# TYPE process_start_time_seconds gauge")
        out.append(f"process_start_time_seconds {self.started}")
        return "\n".join(out) + "\n"
