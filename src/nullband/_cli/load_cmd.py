"""CLI: `nullband load run|sweep|ab|compare|report|synth` and `nullband prefix`.

Exit codes: 0 valid run / gate passed, 1 gate failed, 2 usage or input error,
3 inconclusive, 4 invalid (the load client fell behind, or runs are not comparable).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer

from nullband.errors import UsageError

if TYPE_CHECKING:
    from nullband.load.compare import GateRule
    from nullband.load.config import LoadConfig

load_app = typer.Typer(
    name="load",
    help=(
        "Replay a traffic shape against an OpenAI-compatible endpoint, open loop, and "
        "measure TTFT, TPOT, ITL and E2E tails; compare serving configs with a tail-latency "
        "gate.\n\nExit codes: 0 valid / pass, 1 gate failed, 2 usage error, 3 inconclusive, "
        "4 invalid (the client fell behind)."
    ),
    no_args_is_help=True,
)

ConfigArg = Annotated[
    Path, typer.Argument(help="Load config YAML, or an eval config (pick --target).")
]
TargetOpt = Annotated[str | None, typer.Option(help="Target name inside an eval config.")]
TraceOpt = Annotated[Path | None, typer.Option(help="Trace file (JSONL) to replay.")]
RateOpt = Annotated[float | None, typer.Option(help="Synthetic arrivals per second.")]
DurOpt = Annotated[float | None, typer.Option(help="Synthetic arrival window, seconds.")]
ReqOpt = Annotated[int | None, typer.Option(help="Synthetic number of requests.")]
ArrOpt = Annotated[str, typer.Option(help="poisson | gamma | constant.")]
BurstOpt = Annotated[float, typer.Option(help="Gamma shape (1 = Poisson, < 1 burstier).")]
PtOpt = Annotated[int, typer.Option(help="Synthetic prompt tokens.")]
OtOpt = Annotated[int, typer.Option(help="Synthetic output tokens (pinned).")]
ProcsOpt = Annotated[
    int | None, typer.Option(help="Client processes; the schedule is sharded across them.")
]
SeedOpt = Annotated[int | None, typer.Option(help="Seed of arrivals and prompts.")]
MetricsOpt = Annotated[
    str | None, typer.Option(help="Prometheus /metrics URL, or 'auto' (base URL root).")
]
SloOpt = Annotated[
    str | None, typer.Option(help="SLOs in ms, e.g. 'ttft=2000,tpot=100,e2e=5000,max_stall=500'.")
]
RuleOpt = Annotated[
    list[str] | None,
    typer.Option("--rule", help="Gate rule, repeatable: 'ttft.p99<=2s', 'ttft.p99<=+10%'."),
]


def _slo(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        k, _, v = part.partition("=")
        key = k.strip() + "_ms"
        if key not in ("ttft_ms", "tpot_ms", "e2e_ms", "max_stall_ms") or not v:
            raise UsageError(f"bad --slo part {part!r}; use ttft=MS,tpot=MS,e2e=MS,max_stall=MS")
        out[key] = float(v)
    return out


def _config(
    config: Path,
    target: str | None,
    *,
    trace: Path | None = None,
    rate: float | None = None,
    duration: float | None = None,
    requests: int | None = None,
    arrival: str = "poisson",
    burstiness: float = 1.0,
    prompt_tokens: int = 256,
    output_tokens: int = 64,
    procs: int | None = None,
    seed: int | None = None,
    metrics_url: str | None = None,
    slo: str | None = None,
    warmup_s: float | None = None,
    max_inflight: int | None = None,
    nice: int | None = None,
) -> LoadConfig:
    from pydantic import ValidationError

    from nullband.load.config import SLO, SyntheticTraffic, read_load_config

    cfg = read_load_config(config, target)
    upd: dict[str, object] = {}
    try:
        if trace is not None:
            upd.update(trace=str(trace), synthetic=None)
        elif rate is not None:
            if duration is None and requests is None:
                duration = 10.0
            upd.update(
                trace=None,
                synthetic=SyntheticTraffic(
                    arrival=arrival,
                    rate=rate,
                    burstiness=burstiness,
                    duration_s=duration if requests is None else None,
                    requests=requests,
                    prompt_tokens=prompt_tokens,
                    output_tokens=output_tokens,
                ),
            )
        if slo is not None:
            upd["slo"] = SLO(**_slo(slo))
    except ValidationError as exc:
        raise UsageError(f"bad traffic options: {exc.errors()[0]['msg']}") from None
    for k, v in (
        ("procs", procs),
        ("seed", seed),
        ("metrics_url", metrics_url),
        ("warmup_s", warmup_s),
        ("max_inflight", max_inflight),
        ("nice", nice),
    ):
        if v is not None:
            upd[k] = v
    return cfg.model_copy(update=upd)


def _emit(text: str, json_path: Path | None, obj: object) -> None:
    typer.echo(text)
    if json_path is not None:
        from pydantic import BaseModel

        assert isinstance(obj, BaseModel)
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_bytes(orjson.dumps(obj.model_dump(mode="json"), option=orjson.OPT_INDENT_2))


@load_app.command("run")
def run_cmd(
    config: ConfigArg,
    out: Annotated[Path, typer.Option(help="Run directory to write.")] = Path(".nullband/load/run"),
    target: TargetOpt = None,
    trace: TraceOpt = None,
    rate: RateOpt = None,
    duration: DurOpt = None,
    requests: ReqOpt = None,
    arrival: ArrOpt = "poisson",
    burstiness: BurstOpt = 1.0,
    prompt_tokens: PtOpt = 256,
    output_tokens: OtOpt = 64,
    time_scale: Annotated[float, typer.Option(help="Multiply trace offsets by this.")] = 1.0,
    procs: ProcsOpt = None,
    seed: SeedOpt = None,
    metrics_url: MetricsOpt = None,
    slo: SloOpt = None,
    warmup_s: Annotated[float | None, typer.Option(help="Unmeasured warm-up, s.")] = None,
    max_inflight: Annotated[
        int | None, typer.Option(help="Safety cap (binding = INVALID).")
    ] = None,
    label: Annotated[str | None, typer.Option(help="Label stored in the summary.")] = None,
    nice: Annotated[
        int | None, typer.Option(help="Client niceness during the run (e.g. -10; needs root).")
    ] = None,
) -> None:
    """Replay a trace or synthetic arrivals open-loop; write requests.jsonl + summary.json.

    Exits 4 when the client fell behind (the figures would be client artifacts).

    Example: nullband load run load.yaml --rate 20 --duration 60 --out runs/base
    """
    from nullband.load.ab import build_schedule
    from nullband.load.files import write_run
    from nullband.load.report import render_summary
    from nullband.load.runner import run_load

    cfg = _config(
        config, target, trace=trace, rate=rate, duration=duration, requests=requests,
        arrival=arrival, burstiness=burstiness, prompt_tokens=prompt_tokens,
        output_tokens=output_tokens, procs=procs, seed=seed, metrics_url=metrics_url,
        slo=slo, warmup_s=warmup_s, max_inflight=max_inflight, nice=nice,
    )  # fmt: skip
    res = run_load(cfg, build_schedule(cfg, time_scale), label=label)
    write_run(out, res.summary, res.records, res.scrapes)
    typer.echo(render_summary(res.summary))
    typer.echo(f"wrote {out}/requests.jsonl and {out}/summary.json")
    raise typer.Exit(4 if res.summary.validity.verdict == "INVALID" else 0)


@load_app.command("sweep")
def sweep_cmd(
    config: ConfigArg,
    rates: Annotated[str, typer.Option(help="Comma-separated arrival rates, e.g. 5,10,20.")],
    out: Annotated[Path, typer.Option(help="Directory; one run per rate.")] = Path(
        ".nullband/load/sweep"
    ),
    target: TargetOpt = None,
    duration: DurOpt = 30.0,
    arrival: ArrOpt = "poisson",
    burstiness: BurstOpt = 1.0,
    prompt_tokens: PtOpt = 256,
    output_tokens: OtOpt = 64,
    procs: ProcsOpt = None,
    seed: SeedOpt = None,
    metrics_url: MetricsOpt = None,
    slo: SloOpt = None,
) -> None:
    """Run synthetic arrivals at each rate in turn; one row per rate with its validity.

    Exits 4 if any rate's run was INVALID.

    Example: nullband load sweep load.yaml --rates 5,10,20,40 --duration 30 --slo ttft=2000
    """
    from nullband.load.ab import build_schedule
    from nullband.load.files import write_run
    from nullband.load.runner import run_load

    try:
        values = [float(x) for x in rates.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"--rates must be numbers separated by commas, got {rates!r}") from None
    any_invalid = False
    typer.echo(f"{'rate':>8} {'valid':>8} {'ttft p50':>10} {'ttft p99':>10} {'tpot p99':>10} "
               f"{'itl p99':>10} {'tok/s':>9} {'good':>6}")  # fmt: skip
    for r in values:
        cfg = _config(
            config, target, rate=r, duration=duration, arrival=arrival, burstiness=burstiness,
            prompt_tokens=prompt_tokens, output_tokens=output_tokens, procs=procs, seed=seed,
            metrics_url=metrics_url, slo=slo,
        )  # fmt: skip
        res = run_load(cfg, build_schedule(cfg), label=f"rate={r:g}")
        s = res.summary
        write_run(out / f"rate-{r:g}", s, res.records, res.scrapes)
        any_invalid |= s.validity.verdict == "INVALID"

        def v(m: str, q: str, s: object = s) -> str:
            x = s.latency_ms[m].value(q)  # type: ignore[attr-defined]
            return "n/a" if x is None else f"{x:.1f}"

        tps = s.throughput.output_tokens_per_s
        gf = s.goodput.fraction
        typer.echo(
            f"{r:>8g} {s.validity.verdict:>8} {v('ttft', 'p50'):>10} {v('ttft', 'p99'):>10} "
            f"{v('tpot', 'p99'):>10} {v('itl_event', 'p99'):>10} "
            f"{'n/a' if tps is None else f'{tps:.0f}':>9} {'n/a' if gf is None else f'{gf:.0%}':>6}"
        )
    raise typer.Exit(4 if any_invalid else 0)


@load_app.command("compare")
def compare_cmd(
    baseline: Annotated[list[Path], typer.Option(help="Baseline run directory (repeatable).")],
    candidate: Annotated[list[Path], typer.Option(help="Candidate run directory (repeatable).")],
    rule: RuleOpt = None,
    quantile: Annotated[float, typer.Option(help="Quantile for the delta table.")] = 0.99,
    block_s: Annotated[float | None, typer.Option(help="Bootstrap window, s (auto).")] = None,
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 2000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write compare.json.")] = None,
) -> None:
    """Compare baseline and candidate load runs on delta-p99 and apply the tail-latency gate.

    Exits 0 PASS, 1 FAIL, 3 INCONCLUSIVE, 4 INVALID.

    Example: nullband load compare --baseline runs/a1 --baseline runs/a2 --candidate runs/b1 --candidate runs/b2 --rule 'ttft.p99<=2s' --rule 'ttft.p99<=+10%'
    """
    from nullband.load.compare import compare_arms
    from nullband.load.files import read_records, read_summary
    from nullband.load.report import render_comparison

    rules = _rules(rule)
    a = [(read_summary(d), read_records(d)) for d in baseline]
    b = [(read_summary(d), read_records(d)) for d in candidate]
    comp = compare_arms(a, b, q=quantile, rules=rules, block_s=block_s, resamples=resamples,
                        seed=seed)  # fmt: skip
    _emit(render_comparison(comp), json_out, comp)
    raise typer.Exit(comp.exit_code)


def _rules(rule: list[str] | None) -> list[GateRule]:
    from nullband.load.compare import DEFAULT_RULES, parse_rule

    try:
        return [parse_rule(r) for r in (rule or DEFAULT_RULES)]
    except ValueError as exc:
        raise UsageError(str(exc)) from None


@load_app.command("ab")
def ab_cmd(
    baseline: Annotated[Path, typer.Argument(help="Baseline load config (its traffic is used).")],
    candidate: Annotated[Path, typer.Argument(help="Candidate load config (its target is used).")],
    out: Annotated[Path, typer.Option(help="Directory for the runs and compare.json.")] = Path(
        ".nullband/load/ab"
    ),
    repeats: Annotated[int, typer.Option(help="Runs per arm, interleaved A B A B.")] = 2,
    rule: RuleOpt = None,
    trace: TraceOpt = None,
    rate: RateOpt = None,
    duration: DurOpt = None,
    requests: ReqOpt = None,
    arrival: ArrOpt = "poisson",
    burstiness: BurstOpt = 1.0,
    prompt_tokens: PtOpt = 256,
    output_tokens: OtOpt = 64,
    procs: ProcsOpt = None,
    seed: SeedOpt = None,
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 2000,
) -> None:
    """Run the same schedule against two serving configs (A B A B ...), compare, gate.

    Exits 0 PASS, 1 FAIL, 3 INCONCLUSIVE, 4 INVALID.

    Example: nullband load ab base.yaml chunked.yaml --repeats 3 --trace prod-5min.jsonl --rule 'ttft.p99<=2s' --rule 'ttft.p99<=+10%'
    """
    from nullband.load.ab import build_schedule, run_ab
    from nullband.load.report import render_comparison

    traffic = dict(
        trace=trace, rate=rate, duration=duration, requests=requests, arrival=arrival,
        burstiness=burstiness, prompt_tokens=prompt_tokens, output_tokens=output_tokens,
        procs=procs, seed=seed,
    )  # fmt: skip
    a = _config(baseline, None, **traffic)  # type: ignore[arg-type]
    b = _config(candidate, None, procs=procs, seed=seed)
    schedule = build_schedule(a)

    def on_run(arm: str, i: int, s: object) -> None:
        v = s.validity.verdict  # type: ignore[attr-defined]
        p99 = s.latency_ms["ttft"].value("p99")  # type: ignore[attr-defined]
        typer.echo(f"  {arm} #{i}: {v}, ttft p99 {'n/a' if p99 is None else f'{p99:.1f}'} ms")

    comp, _, _ = run_ab(a, b, schedule, repeats=repeats, out_dir=out, rules=_rules(rule),
                        seed=a.seed, resamples=resamples, on_run=on_run)  # fmt: skip
    _emit(render_comparison(comp), out / "compare.json", comp)
    raise typer.Exit(comp.exit_code)


@load_app.command("report")
def report_cmd(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    slo: SloOpt = None,
) -> None:
    """Print a run's summary; with --slo, recompute goodput and slices from requests.jsonl.

    Example: nullband load report runs/base --slo ttft=500,tpot=50
    """
    from nullband.load.config import SLO, LoadConfig
    from nullband.load.files import read_records, read_summary
    from nullband.load.report import render_summary
    from nullband.load.runner import resummarize
    from nullband.targets.config import TargetConfig

    s = read_summary(run_dir)
    if slo is not None:
        t = TargetConfig(name=s.target.name, base_url=s.target.base_url, model=s.target.model)
        cfg = LoadConfig(target=t, slo=SLO(**_slo(slo)))
        s = resummarize(s, read_records(run_dir), cfg)
    typer.echo(render_summary(s))
    raise typer.Exit(4 if s.validity.verdict == "INVALID" else 0)


@load_app.command("synth")
def synth_cmd(
    out: Annotated[Path, typer.Argument(help="Trace file to write (JSONL).")],
    rate: Annotated[float, typer.Option(help="Arrivals per second.")],
    duration: DurOpt = None,
    requests: ReqOpt = None,
    arrival: ArrOpt = "poisson",
    burstiness: BurstOpt = 1.0,
    prompt_tokens: PtOpt = 256,
    output_tokens: OtOpt = 64,
    tenants: Annotated[
        str | None, typer.Option(help="Tenants 'name:weight:prefix_tokens,...'.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the arrivals.")] = 0,
) -> None:
    """Write a synthetic trace file (Poisson, gamma or constant arrivals; seeded).

    Example: nullband load synth trace.jsonl --rate 20 --duration 300 --arrival gamma --burstiness 0.3 --tenants acme:3:1024,beta:1:0
    """
    from pydantic import ValidationError

    from nullband.load.config import SyntheticTraffic, TenantSpec
    from nullband.load.trace import synthetic_rows, write_trace

    try:
        ten = [TenantSpec(name="_")]
        if tenants:
            ten = []
            for part in tenants.split(","):
                name, w, p = [*part.split(":"), "1", "0"][:3]
                ten.append(TenantSpec(name=name, weight=float(w), prefix_tokens=int(p)))
        spec = SyntheticTraffic(
            arrival=arrival,
            rate=rate,
            burstiness=burstiness,
            duration_s=duration if requests is None else None,
            requests=requests,
            prompt_tokens=prompt_tokens,
            output_tokens=output_tokens,
            tenants=ten,
        )
    except (ValidationError, ValueError) as exc:
        raise UsageError(f"bad options: {exc}") from None
    rows = synthetic_rows(spec, seed)
    write_trace(out, rows, source=f"nullband load synth seed={seed}")
    typer.echo(f"wrote {len(rows)} requests to {out}")


def prefix_cmd(
    prompts: Annotated[Path, typer.Argument(help="JSONL: prompt | messages | input, tenant.")],
    tokenize_url: Annotated[
        str | None, typer.Option(help="The server's /tokenize URL, e.g. http://host:8000/tokenize.")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Model name sent to /tokenize.")] = None,
    tokenizer: Annotated[
        Path | None, typer.Option(help="Local tokenizer.json (needs the tokenizers package).")
    ] = None,
    block_size: Annotated[int, typer.Option(help="Cache block size in tokens.")] = 16,
    tenant_field: Annotated[str, typer.Option(help="Dotted field holding the tenant.")] = "tenant",
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the report as JSON.")
    ] = None,
) -> None:
    """Per tenant: where prompts diverge, the estimated prefix-cache hit rate, and the
    volatile fields (timestamps, UUIDs, hashes) to move after the stable prefix.

    Tokenizer: the server's /tokenize when given and reachable, else a local
    tokenizer.json, else one token per byte (the report names which).

    Example: nullband prefix prompts.jsonl --tokenize-url http://127.0.0.1:8000/tokenize --block-size 16
    """
    from nullband.load.prefix import analyze_prompts, read_prompts
    from nullband.load.report import render_prefix
    from nullband.load.tokenizers import choose_tokenizer

    if block_size < 1:
        raise UsageError(f"--block-size must be at least 1, got {block_size}")
    items = read_prompts(prompts, tenant_field)
    tok, notes = choose_tokenizer(tokenize_url, model, tokenizer)
    rep = analyze_prompts(items, tok, block_size, notes)
    _emit(render_prefix(rep), json_out, rep)


def register(app: typer.Typer) -> None:
    """Add this group's commands to the top-level app."""
    app.add_typer(load_app, name="load")
    app.command("prefix")(prefix_cmd)
