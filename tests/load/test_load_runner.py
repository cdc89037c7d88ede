"""End to end against the test server: files, CLI exit codes, sharding, /metrics scraping."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import yaml
from loadtest_helpers import make_config

from nullband._cli.main import main
from nullband.load.config import SyntheticTraffic
from nullband.load.files import read_records, read_summary
from nullband.load.runner import run_load
from nullband.load.scrape import _hist_quantile, parse_metrics
from nullband.load.trace import synthetic_schedule
from nullband.testserver import SubprocessServer


def _cfg_file(tmp_path: Path, base_url: str, **extra: object) -> Path:
    p = tmp_path / "load.yaml"
    data = {"target": {"name": "srv", "base_url": base_url, "model": "m"}, **extra}
    p.write_text(yaml.safe_dump(data))
    return p


def test_cli_run_writes_files_and_exit_code_follows_validity(
    fast_server: SubprocessServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _cfg_file(tmp_path, fast_server.base_url, metrics_url="auto",
                    slo={"ttft_ms": 1000})  # fmt: skip
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exc:
        main(["load", "run", str(cfg), "--rate", "20", "--duration", "2", "--output-tokens",
              "8", "--prompt-tokens", "16", "--seed", "4", "--out", str(out)])  # fmt: skip
    s = read_summary(out)
    assert exc.value.code == (4 if s.validity.verdict == "INVALID" else 0)
    assert s.schema_version == 1
    assert s.kind == "load_run"
    assert s.schedule.seed == 4
    recs = read_records(out)
    assert len(recs) == s.counts["planned"] == s.counts["ok"]
    assert all(r.completion_tokens == 8 and r.finish_reason == "length" for r in recs)
    # server-side figures: the counters moved by exactly this run's requests
    assert s.server is not None
    assert s.server.status == "ok"
    assert s.server.counters["requests_succeeded"] == len(recs)
    assert s.server.counters["generation_tokens"] == 8 * len(recs)
    assert s.server.histograms["ttft"].count == len(recs)
    # the raw samples: one before, the ones during, one after, on the run's clock
    scr = [orjson.loads(x) for x in (out / "server_metrics.jsonl").read_bytes().splitlines()]
    assert scr[0]["phase"] == "before"
    assert scr[-1]["phase"] == "after"
    assert scr[0]["t_s"] < 0 < scr[-1]["t_s"]
    assert len(scr) == 2 + s.server.scrapes_during >= 3  # 2 s run, 1 s scrape period
    done = "vllm:request_success_total"
    # (a fresh server has no sample of this counter before its first request)
    assert scr[-1]["values"][done] - scr[0]["values"].get(done, 0) == len(recs)
    text = capsys.readouterr().out
    assert "ttft" in text
    assert "goodput (ttft_ms<=1000)" in text
    # report recomputes goodput with another SLO from requests.jsonl
    with pytest.raises(SystemExit):
        main(["load", "report", str(out), "--slo", "ttft=0.001"])
    assert "goodput (ttft_ms<=0.001): 0/" in capsys.readouterr().out


def test_cli_invalid_run_exits_4_and_says_why(
    fast_server: SubprocessServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _cfg_file(tmp_path, fast_server.base_url)
    with pytest.raises(SystemExit) as exc:
        main(["load", "run", str(cfg), "--rate", "4000", "--requests", "1200", "--arrival",
              "constant", "--output-tokens", "32", "--out", str(tmp_path / "r")])  # fmt: skip
    assert exc.value.code == 4
    text = capsys.readouterr().out
    assert "INVALID - client-limited" in text
    assert "--procs 2" in text


def test_eval_config_target_and_bad_inputs(tmp_path: Path) -> None:
    ev = tmp_path / "eval.yaml"
    ev.write_text(yaml.safe_dump({"suite": "s.jsonl", "targets": [
        {"name": "a", "base_url": "http://127.0.0.1:9/v1", "model": "m1"},
        {"name": "b", "base_url": "http://127.0.0.1:9/v1", "model": "m2"}]}))  # fmt: skip
    from nullband.errors import ConfigError
    from nullband.load.config import read_load_config

    assert read_load_config(ev, "b").target.model == "m2"
    with pytest.raises(ConfigError, match="pick one with --target"):
        read_load_config(ev)
    bad = tmp_path / "bad.yaml"
    bad.write_text("target:\n  name: x\n  base_url: http://h/v1\n  model: m\nprocs: zero\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:5: field 'procs'"):
        read_load_config(bad)


def test_two_processes_share_one_schedule(fast_server: SubprocessServer) -> None:
    cfg = make_config(
        fast_server.base_url,
        synthetic=SyntheticTraffic(rate=40, duration_s=3, output_tokens=4, prompt_tokens=16),
    )
    sch = synthetic_schedule(cfg.synthetic, seed=2)  # type: ignore[arg-type]
    res = run_load(cfg, sch, procs=2)
    recs = res.records
    assert [r.idx for r in recs] == list(range(len(sch.requests)))
    assert {r.proc for r in recs} == {0, 1}
    assert all(r.proc == r.idx % 2 for r in recs)  # request i goes to process i mod 2
    # every record's planned time is the schedule's offset on the shared t0
    for r, p in zip(recs, sch.requests, strict=True):
        assert r.planned_ns == round(p.offset_s * 1e9)
    assert all(r.status == "ok" for r in recs)
    assert res.summary.client.procs == 2
    assert len(res.summary.client.cpu_share) == 2
    # both shards sent on the same clock: sends are close to plan (generous: shared machine)
    lags = [(r.call_ns - r.planned_ns) / 1e6 for r in recs if r.call_ns]
    assert min(lags) >= 0
    assert sorted(lags)[len(lags) // 2] < 50


def test_metrics_parsing_sums_labels_and_maps_old_names() -> None:
    text = (
        "# TYPE vllm:gpu_cache_usage_perc gauge\n"
        'vllm:gpu_cache_usage_perc{engine="0",model_name="m"} 0.25\n'
        "# TYPE vllm:gpu_prefix_cache_hits counter\n"
        'vllm:gpu_prefix_cache_hits_total{engine="0",model_name="m"} 30\n'
        'vllm:gpu_prefix_cache_hits_total{engine="1",model_name="m"} 10\n'
        "# TYPE vllm:time_to_first_token_seconds histogram\n"
        'vllm:time_to_first_token_seconds_bucket{le="0.1",model_name="m"} 50\n'
        'vllm:time_to_first_token_seconds_bucket{le="0.5",model_name="m"} 90\n'
        'vllm:time_to_first_token_seconds_bucket{le="+Inf",model_name="m"} 100\n'
        'vllm:time_to_first_token_seconds_count{model_name="m"} 100\n'
        'vllm:time_to_first_token_seconds_sum{model_name="m"} 12\n'
    )
    snap = parse_metrics(text)
    assert snap["values"]["vllm:kv_cache_usage_perc"] == 0.25
    assert snap["values"]["vllm:prefix_cache_hits_total"] == 40  # summed over engines
    cum = sorted(snap["buckets"]["vllm:time_to_first_token_seconds"].items())
    # median: rank 50 is the top of the first bucket; p90 the top of the second
    assert _hist_quantile(cum, 0.5) == pytest.approx(0.1)
    assert _hist_quantile(cum, 0.7) == pytest.approx(0.1 + 0.4 * (20 / 40))
    assert _hist_quantile(cum, 0.95) == pytest.approx(0.5)  # +Inf bucket: its lower edge


def test_summary_json_is_plain_json(fast_server: SubprocessServer, tmp_path: Path) -> None:
    cfg = _cfg_file(tmp_path, fast_server.base_url)
    out = tmp_path / "r2"
    with pytest.raises(SystemExit):
        main(["load", "run", str(cfg), "--rate", "10", "--requests", "5", "--output-tokens", "3",
              "--out", str(out)])  # fmt: skip
    data = orjson.loads((out / "summary.json").read_bytes())
    assert data["latency_ms"]["ttft"]["quantiles"]["p99"]["method"] == "order-statistic (binomial)"
    # five samples cannot bound p99 from above: said explicitly, not a made-up number
    assert data["latency_ms"]["ttft"]["quantiles"]["p99"]["status"] == "upper_unbounded"
    line = orjson.loads((out / "requests.jsonl").read_bytes().splitlines()[0])
    # three tokens, then the finish chunk (an event with choices but no token)
    assert line["event_tokens"] == [1, 1, 1, 0]
    assert len(line["event_us"]) == 4


def test_failures_are_recorded_not_measured(tmp_path: Path) -> None:
    args = ["--fault-500", "0.15", "--fault-truncate", "0.15", "--fault-malformed", "0.15",
            "--seed", "3"]  # fmt: skip
    with SubprocessServer(args) as srv:
        cfg = make_config(
            srv.base_url,
            synthetic=SyntheticTraffic(rate=40, requests=80, output_tokens=6, prompt_tokens=8),
            slo={"ttft_ms": 10_000},
        )
        res = run_load(cfg, synthetic_schedule(cfg.synthetic, seed=0))  # type: ignore[arg-type]
    by = {}
    for r in res.records:
        by.setdefault(r.status, []).append(r)
    # truncated streams (the connection closes mid-body) and malformed chunks: stream_error
    assert set(by) == {"ok", "http_error", "stream_error"}
    assert all(r.http_status == 500 for r in by["http_error"])
    assert all(r.error for st, rs in by.items() if st != "ok" for r in rs)
    s = res.summary
    assert s.latency_ms["ttft"].n == len(by["ok"])  # failures are not latency samples
    assert s.goodput.good == len(by["ok"])  # ... and never good
    assert s.goodput.total == 80
    assert any("requests failed" in w for w in s.validity.warnings)


def test_usage_errors_exit_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _cfg_file(tmp_path, "http://127.0.0.1:9/v1")
    with pytest.raises(SystemExit) as exc:
        main(["load", "run", str(cfg), "--out", str(tmp_path / "x")])
    assert exc.value.code == 2
    assert "no traffic given" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["load", "compare", "--baseline", str(tmp_path), "--candidate", str(tmp_path),
              "--rule", "ttft<2s"])  # fmt: skip
    assert exc.value.code == 2
    assert "not a rule" in capsys.readouterr().err


def test_niceness_applies_during_the_run_and_is_restored(fast_server: SubprocessServer) -> None:
    import os

    before = os.getpriority(os.PRIO_PROCESS, 0)
    cfg = make_config(
        fast_server.base_url,
        synthetic=SyntheticTraffic(rate=20, requests=4, output_tokens=2, prompt_tokens=8),
        nice=min(19, before + 3),  # lowering priority needs no privilege
    )
    res = run_load(cfg, synthetic_schedule(cfg.synthetic, seed=0))  # type: ignore[arg-type]
    assert res.summary.counts["ok"] == 4
    assert os.getpriority(os.PRIO_PROCESS, 0) == before
    assert not any("niceness" in w for w in res.summary.validity.warnings)
