"""Against a server with known latencies, the client measures them to within 2 ms; a rate
it cannot hold is INVALID; bursts are replayed on time.

The machine these tests run on is shared. While each attempt runs, a separate process
measures how late 1 ms sleeps wake up (:class:`NoiseProbe`): that tells whether the
machine itself, independently of the code under test, could support a 2 ms claim. Up to
four attempts are made; the test passes on the first that is VALID and within the
tolerance, fails when none is although the machine was quiet during at least one, and is
skipped (with every attempt's figures) when the machine was noisy throughout. A sloppy
client (late sends, a blocked loop, timestamps taken in the wrong place) fails.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from loadtest_helpers import PER_TOKEN_MS, QUIET_P99_MS, TTFT_MS, NoiseProbe, make_config

from nullband.load.config import SyntheticTraffic
from nullband.load.runner import LoadResult, run_load
from nullband.load.trace import TraceRow, schedule_from_trace, synthetic_schedule, write_trace
from nullband.testserver import SubprocessServer

ATTEMPTS = 4


def _figures(res: LoadResult) -> dict[str, float]:
    out = {}
    for m in ("ttft", "tpot", "itl_event"):
        for q in ("p50", "p90", "p99"):
            v = res.summary.latency_ms[m].value(q)
            assert v is not None
            out[f"{m}.{q}"] = v
    return out


def test_known_latencies_within_2ms_at_50_rps(paced_server: SubprocessServer) -> None:
    """TTFT, TPOT and ITL at p50, p90 and p99 within 2 ms of the configured latencies.

    Measured on the quiet shared 2-core VM (2026-12-04, bench/load.md): p50 errors
    +0.3-0.35 ms, TTFT p99 +0.7-1.8 ms, ITL p99 within +0.9 ms, TPOT within 0.1 ms.
    """
    out_tokens = 16
    # The first requests of a run open the TCP connections (an accept and a protocol set-up
    # on the server, a connect on the client), which delays their neighbours by up to a
    # millisecond; like any load test, this one leaves a warm-up out of the figures.
    cfg = make_config(
        paced_server.base_url,
        warmup_s=0.5,
        synthetic=SyntheticTraffic(rate=50, duration_s=5, output_tokens=out_tokens,
                                   prompt_tokens=64),
    )  # fmt: skip
    truth = {"ttft": TTFT_MS, "tpot": PER_TOKEN_MS, "itl_event": PER_TOKEN_MS}
    seen = []
    quiet = False
    for attempt in range(ATTEMPTS):
        probe = NoiseProbe()
        res = run_load(cfg, synthetic_schedule(cfg.synthetic, seed=attempt))  # type: ignore[arg-type]
        noise = probe.stop()
        quiet |= noise <= QUIET_P99_MS
        s = res.summary
        assert s.counts["ok"] == s.counts["planned"]
        assert s.counts["measured"] >= 180
        assert s.counts["length_mismatch"] == 0  # pinned lengths were honoured
        errs = {k: v - truth[k.split(".")[0]] for k, v in _figures(res).items()}
        seen.append(
            f"attempt {attempt}: machine noise p99 {noise:.2f} ms; {s.validity.verdict} "
            f"{s.validity.reasons}; errors { ({k: round(v, 2) for k, v in errs.items()}) }"
        )
        if s.validity.verdict == "VALID" and all(abs(e) <= 2.0 for e in errs.values()):
            # one token per event here, so ITL per token equals ITL per event
            assert s.latency_ms["itl_token"].value("p50") == pytest.approx(
                s.latency_ms["itl_event"].value("p50"), abs=0.01
            )
            return
    if quiet:
        pytest.fail("no attempt was VALID and within 2 ms, though the machine was quiet in "
                    "at least one: " + "; ".join(seen))  # fmt: skip
    pytest.skip("the machine was too loaded in every attempt to check 2 ms: " + "; ".join(seen))


def test_rate_the_client_cannot_hold_is_invalid(fast_server: SubprocessServer) -> None:
    # 4000 streams/s of 32 tokens is far beyond one Python process (about 0.5 ms of CPU
    # per stream, see bench/load.md); the run must say so rather than report it.
    cfg = make_config(
        fast_server.base_url,
        synthetic=SyntheticTraffic(arrival="constant", rate=4000, requests=1500,
                                   output_tokens=32, prompt_tokens=16),
    )  # fmt: skip
    res = run_load(cfg, synthetic_schedule(cfg.synthetic, seed=0))  # type: ignore[arg-type]
    v = res.summary.validity
    assert v.verdict == "INVALID"
    failed = {c.name for c in v.checks if not c.passed}
    assert "dispatch_lag_p99" in failed
    assert "late_fraction" in failed
    assert v.suggestion is not None
    assert "--procs 2" in v.suggestion
    # the late sends show up as a gap between TTFT from the planned and the actual send
    co = res.summary.latency_ms["ttft_planned"].value("p99")
    raw = res.summary.latency_ms["ttft"].value("p99")
    assert co is not None
    assert raw is not None
    assert co > raw


def _burst_trace(path: Path) -> None:
    rng = np.random.default_rng(3)
    t = list(np.cumsum(rng.exponential(1 / 8, size=40)))  # background, 8/s for ~5 s
    for start in (0.5, 1.5, 2.5, 3.5):  # four bursts: 25 requests 4 ms apart (250/s)
        t.extend(start + 0.004 * i for i in range(25))
    rows = [TraceRow(t=float(x), tenant="bursty", prompt_tokens=32, output_tokens=4) for x in t]
    write_trace(path, rows, source="bursts")


def test_bursty_trace_is_replayed_within_1ms_at_p99(
    fast_server: SubprocessServer, tmp_path: Path
) -> None:
    trace = tmp_path / "bursts.jsonl"
    _burst_trace(trace)
    sch = schedule_from_trace(trace, seed=0)
    cfg = make_config(fast_server.base_url, trace=str(trace))
    seen = []
    quiet = False
    for _ in range(ATTEMPTS):
        probe = NoiseProbe()
        res = run_load(cfg, sch)
        noise = probe.stop()
        # when each request was issued vs planned (the dispatch lag the summary reports)
        offs = np.array([(r.call_ns - r.planned_ns) / 1e6 for r in res.records if r.call_ns])
        assert offs.size == len(sch.requests)
        assert offs.min() >= 0  # never early
        p99 = float(np.quantile(offs, 0.99))
        # the summary reports the same figure it is judged on
        assert res.summary.client.dispatch_lag_ms.value("p99") == pytest.approx(p99)
        seen.append(f"offsets p99 {p99:.3f} ms with machine noise p99 {noise:.2f} ms")
        if p99 <= 1.0:
            return
        quiet |= noise <= QUIET_P99_MS
    if quiet:
        pytest.fail("arrival offsets p99 above 1 ms in every attempt: " + "; ".join(seen))
    pytest.skip("the machine was too loaded in every attempt to check 1 ms: " + "; ".join(seen))
