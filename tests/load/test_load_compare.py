"""A/B comparison: paired block bootstrap over time windows and the tail-latency gate."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from loadtest_helpers import make_config

from nullband._cli.main import main
from nullband.load.compare import compare_arms, parse_rule
from nullband.load.config import SyntheticTraffic
from nullband.load.engine import ShardResult
from nullband.load.files import write_run
from nullband.load.records import RequestRecord
from nullband.load.runner import _assemble
from nullband.load.summary import LoadSummary
from nullband.load.trace import Schedule, synthetic_schedule

MS = 1_000_000
SPEC = SyntheticTraffic(rate=40, duration_s=40, output_tokens=8, prompt_tokens=32)


def fake_run(
    schedule: Schedule, seed: int, ttft_scale: float = 1.0, lag_ms: float = 0.1, label: str = "x"
) -> tuple[LoadSummary, list[RequestRecord]]:
    """A run as the client would record it. TTFT drifts in 5 s bursts that come from the
    schedule (the same in both arms, as when one trace is replayed) plus per-run noise."""
    shape = np.random.default_rng(100)
    burst = {w: shape.gamma(2.0, 0.5) for w in range(20)}
    rng = np.random.default_rng(seed)
    raws = []
    for r in schedule.requests:
        planned = round(r.offset_s * 1e9)
        send = planned + int(lag_ms * MS)
        ttft = (40 + 30 * burst[int(r.offset_s // 5)] + rng.exponential(10)) * ttft_scale
        first = send + int(ttft * MS)
        ev = [int(ttft * 1000) + 10_000 * i for i in range(8)]
        raws.append(dict(
            idx=r.idx, planned_ns=planned, dispatch_ns=send, call_ns=send, send_ns=send, headers_ns=send,
            first_event_ns=first, first_token_ns=first, last_token_ns=send + ev[-1] * 1000,
            end_ns=send + ev[-1] * 1000, event_us=ev, event_tokens=[1] * 8,
            token_source="usage", events_per_read_max=1, prompt_tokens=32,
            completion_tokens=8, cached_tokens=None, finish_reason="length", http_status=200,
            status="ok", error=None, inflight_at_send=1,
        ))  # fmt: skip
    shard = ShardResult(
        proc=0, raws=raws, loop_lag_ms=[0.2] * 500, cpu_s=1.0, wall_s=60.0, loop="asyncio",
        peak_inflight=5, cap_hit=False, t0_ns=0, t0_wall_ns=time.time_ns(),
    )  # fmt: skip
    res = _assemble(make_config("http://127.0.0.1:9/v1"), schedule, [shard], None, label)
    return res.summary, res.records


@pytest.fixture(scope="module")
def schedule() -> Schedule:
    return synthetic_schedule(SPEC, seed=1)


def test_rule_parsing() -> None:
    r = parse_rule("ttft.p99<=2s")
    assert (r.metric, r.q, r.kind, r.limit) == ("ttft", 0.99, "max_ms", 2000.0)
    r = parse_rule("itl_event.p99.9 <= +10%")
    assert (r.metric, r.q, r.kind, r.limit) == ("itl_event", pytest.approx(0.999), "max_ratio",
                                                pytest.approx(1.1))  # fmt: skip
    with pytest.raises(ValueError, match="not a rule"):
        parse_rule("ttft < 2s")


def test_same_config_passes_and_a_big_regression_fails(schedule: Schedule) -> None:
    a = [fake_run(schedule, 1, label="baseline"), fake_run(schedule, 3, label="baseline")]
    same = [fake_run(schedule, 2, label="candidate"), fake_run(schedule, 4, label="candidate")]
    rules = [parse_rule("ttft.p99<=2s"), parse_rule("ttft.p99<=+50%")]
    comp = compare_arms(a, same, rules=rules, resamples=400, seed=0)
    assert comp.decision == "PASS", comp.reasons
    d = next(x for x in comp.deltas if x.metric == "ttft")
    assert d.delta.lower is not None
    assert d.delta.upper is not None
    assert d.delta.lower < 0 < d.delta.upper  # same process: the interval holds 0
    assert len(d.baseline_runs) == 2
    worse = [fake_run(schedule, 2, 2.0, label="candidate"), fake_run(schedule, 4, 2.0, label="c")]
    comp = compare_arms(a, worse, rules=rules, resamples=400, seed=0)
    assert comp.decision == "FAIL"
    assert comp.exit_code == 1
    assert comp.rules[1].decision == "FAIL"
    assert comp.rules[0].decision == "PASS"
    # the same seed gives the same intervals
    again = compare_arms(a, worse, rules=rules, resamples=400, seed=0)
    assert again.deltas == comp.deltas


def test_limit_inside_the_interval_is_inconclusive(schedule: Schedule) -> None:
    a = [fake_run(schedule, 1)]
    b = [fake_run(schedule, 2, 1.1)]
    comp = compare_arms(a, b, rules=[parse_rule("ttft.p99<=+10%")], resamples=400, seed=0)
    r = comp.rules[0]
    assert r.interval.lower is not None
    assert r.interval.upper is not None
    assert r.interval.lower <= 1.10 <= r.interval.upper
    assert comp.decision == "INCONCLUSIVE"
    assert comp.exit_code == 3


def test_invalid_or_misaligned_runs_make_the_comparison_invalid(schedule: Schedule) -> None:
    a = [fake_run(schedule, 1)]
    late = [fake_run(schedule, 2, lag_ms=8.0)]  # the client fell behind in this run
    comp = compare_arms(a, late, resamples=100)
    assert comp.decision == "INVALID"
    assert comp.exit_code == 4
    assert any("dispatch lag" in r for r in comp.reasons)
    other = synthetic_schedule(SPEC, seed=99)
    comp = compare_arms(a, [fake_run(other, 2)], resamples=100)
    assert comp.decision == "INVALID"
    assert any("different schedules" in r for r in comp.reasons)


def test_cli_compare_exit_codes(schedule: Schedule, tmp_path: Path) -> None:
    dirs = {}
    for name, scale in (("a", 1.0), ("b", 3.0)):
        s, recs = fake_run(schedule, 5 if name == "a" else 6, scale, label=name)
        dirs[name] = write_run(tmp_path / name, s, recs)
    out = tmp_path / "cmp.json"
    args = ["load", "compare", "--baseline", str(dirs["a"]), "--candidate", str(dirs["b"]),
            "--rule", "ttft.p99<=+10%", "--resamples", "200", "--json", str(out)]  # fmt: skip
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 1
    assert '"decision": "FAIL"' in out.read_text()
    with pytest.raises(SystemExit) as exc:
        main(["load", "compare", "--baseline", str(dirs["a"]), "--candidate", str(dirs["a"]),
              "--rule", "ttft.p99<=+10%", "--resamples", "200"])  # fmt: skip
    assert exc.value.code == 0


def test_weighted_bootstrap_quantiles_match_explicit_resamples() -> None:
    from nullband.load.compare import _boot_quantiles

    rng = np.random.default_rng(4)
    k = 7
    runs = [[rng.exponential(size=int(rng.integers(0, 30))) for _ in range(k)] for _ in range(2)]
    picks = rng.integers(0, k, size=(50, k))
    counts = np.zeros((50, k), dtype=np.int32)
    for i in range(50):
        for j in picks[i]:
            counts[i, j] += 1
    fast = _boot_quantiles(runs, counts, 0.9)
    for i in range(50):
        # oracle: build the resample explicitly and take the inverted-CDF quantile
        x = np.concatenate([run[j] for run in runs for j in picks[i]])
        assert fast[i] == np.quantile(x, 0.9, method="inverted_cdf")


@pytest.mark.slow
def test_cli_ab_interleaves_runs_and_fails_a_slower_candidate(tmp_path: Path) -> None:
    import yaml

    from nullband.load.files import read_summary
    from nullband.testserver import SubprocessServer

    # This test checks the A/B plumbing and the gate, not client precision (other tests
    # do), so the validity limits are opened wide: the machine may be busy.
    loose = {"dispatch_lag_p99_ms": 1e4, "late_fraction": 1.0, "arrival_rate_tolerance": 1.0,
             "loop_lag_p99_ms": 1e4}  # fmt: skip
    with (
        SubprocessServer(["--ttft-ms", "20"]) as fast,
        SubprocessServer(["--ttft-ms", "200"]) as slow,
    ):
        for name, srv in (("base", fast), ("cand", slow)):
            (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump({
                "target": {"name": name, "base_url": srv.base_url, "model": "m"},
                "synthetic": {"rate": 20, "duration_s": 3, "output_tokens": 4,
                              "prompt_tokens": 16},
                "validity": loose,
            }))  # fmt: skip
        out = tmp_path / "ab"
        with pytest.raises(SystemExit) as exc:
            main(["load", "ab", str(tmp_path / "base.yaml"), str(tmp_path / "cand.yaml"),
                  "--repeats", "2", "--out", str(out), "--resamples", "300",
                  "--rule", "ttft.p99<=2s", "--rule", "ttft.p99<=+10%"])  # fmt: skip
    assert exc.value.code == 1
    order = ["baseline-1", "candidate-1", "baseline-2", "candidate-2"]
    starts = [read_summary(out / d).started_at for d in order]
    assert starts == sorted(starts)  # A B A B
    assert len({read_summary(out / d).schedule.fingerprint for d in order}) == 1
    data = (out / "compare.json").read_text()
    assert '"decision": "FAIL"' in data
