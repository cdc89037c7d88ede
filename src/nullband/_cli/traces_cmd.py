"""CLI commands of the traces group: ingest, audit, scrub, sample, coverage, to-suite,
shadow, adversarial, schema.

Every command that embeds traces, writes their text into a suite or dataset, or could
send it to a model scrubs the traces first (in this process); scrubbing twice is harmless
because placeholders are not entities.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from nullband.errors import UsageError

app = typer.Typer(
    name="traces",
    help="Production traces: ingest, audit, scrub PII, cluster and sample, build replay "
    "suites, measure coverage, keep the adversarial set, analyse shadow traffic.",
    no_args_is_help=True,
)
adv_app = typer.Typer(
    name="adversarial",
    help="The permanent adversarial set: a suite file that only grows.",
    no_args_is_help=True,
)
app.add_typer(adv_app)

FileArg = Annotated[
    Path, typer.Argument(help="Trace file (OTLP JSON, LiteLLM, Bifrost or generic JSONL; .gz ok).")
]
FmtOpt = Annotated[
    str, typer.Option("--format", "-f", help="auto, otel, litellm, bifrost or generic.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed (stored with the result).")]


def _out(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def _write_json(path: Path, value: Any) -> None:
    path.write_bytes(orjson.dumps(value, option=orjson.OPT_INDENT_2) + b"\n")


def _scrubbed(
    path: Path, fmt: str, presidio: bool, ids: set[str] | None = None
) -> tuple[list[Any], Any]:
    from nullband.traces.ingest import read_traces
    from nullband.traces.scrub import ScrubSession, presidio_finder

    session = ScrubSession(extra=[presidio_finder()] if presidio else [])
    items = [
        session.scrub_trace(t) for t in read_traces(path, fmt) if ids is None or t.trace_id in ids
    ]
    return items, session


@app.command("schema")
def schema_cmd() -> None:
    """Print the JSON Schema of one generic JSONL line (a normalised step).

    Example: nullband traces schema > step.schema.json
    """
    from nullband.traces.schema import Step

    _out(Step.model_json_schema())


@app.command("ingest")
def ingest_cmd(
    files: Annotated[list[Path], typer.Argument(help="Trace files to normalise.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Generic JSONL to write.")],
    fmt: FmtOpt = "auto",
) -> None:
    """Normalise trace files of any supported format into generic JSONL (streamed).

    Example: nullband traces ingest spans.otlp.jsonl litellm_spend.csv -o steps.jsonl
    """
    from itertools import chain

    from nullband.traces.ingest import iter_steps, write_steps

    n = write_steps(chain.from_iterable(iter_steps(f, fmt) for f in files), out)
    typer.echo(f"wrote {n} steps to {out}")


def _audit_table(summary: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    meaning = {
        "clean": "no flag: single provider and model, no retry, schemas and timing fine",
        "noisy": "right path unclear: retries, fallbacks, model swaps, cache hits, slow spans",
        "corrupted": "claims success but data is wrong: tool schema or ground truth failed",
    }
    t = Table(
        title=f"trace audit ({summary.n_traces} traces, {summary.n_steps} steps, {summary.engine} engine)"
    )
    for col in ("category", "traces", "%", "what it meant"):
        t.add_column(col)
    for v in ("clean", "noisy", "corrupted"):
        share = summary.share(v)
        t.add_row(
            v,
            str(summary.verdicts.get(v, 0)),
            f"{100 * share:.1f}" if share is not None else "-",
            meaning[v],
        )
    f = Table(title="flags (traces carrying each)")
    f.add_column("flag")
    f.add_column("traces")
    for code, n in summary.flags.items():
        f.add_row(code, str(n))
    c = Console()
    c.print(t)
    c.print(f)
    thin = [x for x in summary.classes if x.state == "not_enough_data"]
    if thin:
        c.print(
            f"{len(thin)} timing classes had fewer than {summary.config.min_class_size} samples: no timing check there"
        )


@app.command("audit")
def audit_cmd(
    file: FileArg,
    fmt: FmtOpt = "auto",
    config: Annotated[
        Path | None, typer.Option("--config", help="Audit config YAML (AuditConfig).")
    ] = None,
    tools: Annotated[
        Path | None, typer.Option("--tools", help="JSON tool definitions (argument schemas).")
    ] = None,
    result_schemas: Annotated[
        Path | None, typer.Option("--result-schemas", help="JSON {tool: result schema}.")
    ] = None,
    ground_truth: Annotated[
        Path | None, typer.Option("--ground-truth", help="JSONL {step_id|tool_call_id, result}.")
    ] = None,
    timing_factor: Annotated[
        float | None,
        typer.Option("--timing-factor", help="Slow = factor x class median (default 1.5)."),
    ] = None,
    pin: Annotated[
        list[str] | None,
        typer.Option("--pin", help="REQUESTED=SNAPSHOT the served model must match."),
    ] = None,
    engine: Annotated[
        str, typer.Option("--engine", help="auto, python or fast (multi-process, generic JSONL).")
    ] = "auto",
    processes: Annotated[
        int | None, typer.Option("--processes", help="Worker processes for the fast engine.")
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write per-trace audits (JSONL) here.")
    ] = None,
    keep: Annotated[
        list[str] | None, typer.Option("--keep", help="Verdicts to keep (clean, noisy, corrupted).")
    ] = None,
    keep_out: Annotated[
        Path | None,
        typer.Option("--keep-out", help="Chat JSONL fine-tuning dataset of kept traces."),
    ] = None,
    presidio: Annotated[
        bool, typer.Option("--presidio", help="Also scrub with Presidio (extra 'pii').")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Audit traces: flag fallbacks, retries, model swaps, cache hits, schema failures,
    slow spans and errors; class each trace clean, noisy or corrupted.

    Example: nullband traces audit steps.jsonl --tools tools.json --keep clean --keep-out train.jsonl
    """
    from nullband.traces.pipeline import audit_file, load_audit_config, select_traces
    from nullband.traces.replay import write_chat_dataset
    from nullband.traces.scrub import ScrubSession, presidio_finder

    if engine not in ("auto", "python", "fast"):
        raise UsageError(f"--engine must be auto, python or fast, got {engine!r}")
    pinned = {}
    for item in pin or []:
        if "=" not in item:
            raise UsageError(f"--pin wants REQUESTED=SNAPSHOT, got {item!r}")
        k, v = item.split("=", 1)
        pinned[k] = v
    cfg = load_audit_config(
        config,
        tools_path=tools,
        result_schemas_path=result_schemas,
        ground_truth_path=ground_truth,
        timing_factor=timing_factor,
        pinned=pinned,
    )
    result = audit_file(file, cfg, fmt=fmt, engine=engine, processes=processes)  # type: ignore[arg-type]
    if report:
        with report.open("wb") as fh:
            for line in result.iter_json():
                fh.write(line + b"\n")
    kept = None
    if keep or keep_out:
        verdicts = keep or ["clean"]
        bad = set(verdicts) - {"clean", "noisy", "corrupted"}
        if bad:
            raise UsageError(f"--keep takes clean, noisy or corrupted, got {sorted(bad)}")
        if keep_out is None:
            raise UsageError("--keep needs --keep-out FILE for the dataset")
        ids = result.by_verdict(*verdicts)  # type: ignore[arg-type]
        session = ScrubSession(extra=[presidio_finder()] if presidio else [])
        kept = write_chat_dataset(
            (session.scrub_trace(t) for t in select_traces(file, ids, fmt)), keep_out
        )
    if as_json:
        _out({"summary": result.summary.model_dump(mode="json"), "kept": kept})
        return
    _audit_table(result.summary)
    if kept is not None:
        typer.echo(f"kept {kept} traces ({', '.join(keep or ['clean'])}) in {keep_out}")


@app.command("scrub")
def scrub_cmd(
    file: FileArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="Scrubbed generic JSONL to write.")],
    fmt: FmtOpt = "auto",
    report: Annotated[
        Path | None, typer.Option("--report", help="Write the scrub report (JSON) here.")
    ] = None,
    save_map: Annotated[
        Path | None, typer.Option("--map", help="Write the reversible placeholder map (sensitive).")
    ] = None,
    presidio: Annotated[
        bool, typer.Option("--presidio", help="Also use Presidio (extra 'pii'; offline).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Replace PII and secrets with consistent placeholders (<EMAIL_3>) and report by type.

    Example: nullband traces scrub steps.jsonl -o scrubbed.jsonl --report scrub.json
    """
    from nullband.traces.ingest import write_steps

    items, session = _scrubbed(file, fmt, presidio)
    n = write_steps((s for it in items for s in it.trace.steps), out)
    rep = session.report()
    if report:
        _write_json(report, rep.model_dump(mode="json"))
    if save_map:
        session.save_map(save_map)
    if as_json:
        _out(rep.model_dump(mode="json"))
        return
    typer.echo(f"wrote {n} scrubbed steps to {out}")
    for etype, count in rep.replaced.items():
        typer.echo(f"  {etype:16} {count:7d} replaced, {rep.distinct.get(etype, 0)} distinct")


def _embeddings(items: list[Any], url: str | None, model: str | None) -> Any:
    if not url:
        return None
    from nullband.traces.embed import embed_traces_http

    if not model:
        raise UsageError("--embeddings-url needs --embeddings-model")
    return embed_traces_http(items, base_url=url, model=model)


@app.command("sample")
def sample_cmd(
    file: FileArg,
    n: Annotated[int, typer.Option("-n", help="Sample size.")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the sample (JSON) here.")
    ] = None,
    fmt: FmtOpt = "auto",
    seed: SeedOpt = 0,
    floor_cluster: Annotated[
        int, typer.Option("--floor-cluster", help="Fewest traces per cluster.")
    ] = 1,
    floor_segment: Annotated[
        int, typer.Option("--floor-segment", help="Fewest traces per segment value.")
    ] = 0,
    segment_key: Annotated[
        list[str] | None, typer.Option("--segment-key", help="Segment keys with a floor.")
    ] = None,
    label_key: Annotated[
        str | None, typer.Option("--label-key", help="Segment naming clusters (e.g. intent).")
    ] = None,
    min_cluster_size: Annotated[
        int, typer.Option("--min-cluster-size", help="HDBSCAN min_cluster_size.")
    ] = 5,
    embeddings_url: Annotated[
        str | None, typer.Option("--embeddings-url", help="OpenAI-compatible base URL (…/v1).")
    ] = None,
    embeddings_model: Annotated[
        str | None, typer.Option("--embeddings-model", help="Embedding model name.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Cluster scrubbed traces (HDBSCAN) and draw a seeded, cluster-stratified sample.

    Example: nullband traces sample steps.jsonl -n 200 --segment-key customer --floor-segment 5 -o sample.json
    """
    from nullband.traces.sample import stratified_sample

    items, _ = _scrubbed(file, fmt, False)
    res = stratified_sample(
        items,
        n,
        seed=seed,
        floor_per_cluster=floor_cluster,
        floor_per_segment=floor_segment,
        segment_keys=segment_key or [],
        min_cluster_size=min_cluster_size,
        label_key=label_key,
        embeddings=_embeddings(items, embeddings_url, embeddings_model),
    )
    if out:
        _write_json(out, res.model_dump(mode="json"))
    if as_json:
        _out(res.model_dump(mode="json", exclude={"labels"}))
        return
    typer.echo(
        f"sampled {res.n_selected} of {len(items)} traces (asked {n}, seed {seed}, {res.embedding})"
    )
    for c in res.clusters:
        typer.echo(f"  cluster {c.cluster:4d} {c.size:6d} traces  {c.sampled:5d} drawn  {c.name}")


@app.command("coverage")
def coverage_cmd(
    file: FileArg,
    suite: Annotated[Path, typer.Option("--suite", help="The existing suite (JSONL of cases).")],
    fmt: FmtOpt = "auto",
    label_key: Annotated[
        str | None, typer.Option("--label-key", help="Segment naming clusters (e.g. intent).")
    ] = None,
    min_cluster_size: Annotated[
        int, typer.Option("--min-cluster-size", help="HDBSCAN min_cluster_size.")
    ] = 5,
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Report which clusters of production traffic a suite covers, and which it misses.

    Example: nullband traces coverage steps.jsonl --suite evals/suite.jsonl --label-key intent
    """
    from nullband.suite.loader import load_cases
    from nullband.traces.coverage import coverage

    items, _ = _scrubbed(file, fmt, False)
    rep = coverage(
        items, load_cases(suite), label_key=label_key, min_cluster_size=min_cluster_size, seed=seed
    )
    if as_json:
        _out(rep.model_dump(mode="json"))
        return
    share = (
        f"{100 * rep.covered_share:.1f}%" if rep.covered_share is not None else "n/a (no clusters)"
    )
    typer.echo(
        f"{rep.n_traces} traces in {len(rep.clusters)} clusters (+{rep.noise} noise); covered traffic {share}"
    )
    for nm in rep.names:
        mark = "covered" if nm.covered else "MISSED "
        typer.echo(
            f"  {mark} {nm.name:30} {nm.traces:6d} traces ({100 * nm.share:4.1f}%)  {nm.cases} cases"
        )
    if rep.unassigned_cases:
        typer.echo(
            f"{len(rep.unassigned_cases)} suite cases are close to no traffic: {', '.join(rep.unassigned_cases[:10])}"
        )


@app.command("to-suite")
def to_suite_cmd(
    file: FileArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="Suite JSONL to write.")],
    fmt: FmtOpt = "auto",
    sample: Annotated[
        int | None,
        typer.Option("--sample", "-n", help="Draw this many (cluster-stratified) first."),
    ] = None,
    seed: SeedOpt = 0,
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Audit verdicts to use (e.g. clean).")
    ] = None,
    audit_config: Annotated[
        Path | None, typer.Option("--audit-config", help="Audit config YAML for --only.")
    ] = None,
    tools: Annotated[
        Path | None, typer.Option("--tools", help="Tool definitions for the --only audit.")
    ] = None,
    result_schemas: Annotated[
        Path | None, typer.Option("--result-schemas", help="Result schemas for the --only audit.")
    ] = None,
    ground_truth: Annotated[
        Path | None, typer.Option("--ground-truth", help="Ground truth for the --only audit.")
    ] = None,
    judge: Annotated[
        str | None,
        typer.Option("--judge", help="Scorer for free-text cases (e.g. judge_pairwise)."),
    ] = None,
    adversarial: Annotated[
        Path | None, typer.Option("--adversarial", help="Adversarial set to merge in.")
    ] = None,
    adversarial_weight: Annotated[
        float, typer.Option("--adversarial-weight", help="Weight of adversarial cases.")
    ] = 3.0,
    presidio: Annotated[
        bool, typer.Option("--presidio", help="Also scrub with Presidio (extra 'pii').")
    ] = False,
) -> None:
    """Build a replay suite from scrubbed traces: the production response is the reference.

    Example: nullband traces to-suite steps.jsonl --only clean -n 2000 --adversarial evals/adv.jsonl -o replay.jsonl
    """
    from nullband.traces.adversarial import AdversarialSet, merge
    from nullband.traces.replay import traces_to_cases, write_suite
    from nullband.traces.sample import stratified_sample

    ids = None
    if only:
        from nullband.traces.pipeline import audit_file, load_audit_config

        cfg = load_audit_config(
            audit_config,
            tools_path=tools,
            result_schemas_path=result_schemas,
            ground_truth_path=ground_truth,
        )
        ids = audit_file(file, cfg, fmt=fmt).by_verdict(*only)  # type: ignore[arg-type]
    items, session = _scrubbed(file, fmt, presidio, ids)
    clusters = None
    if sample is not None:
        res = stratified_sample(items, sample, seed=seed)
        chosen = set(res.trace_ids)
        clusters = {it.trace.trace_id: lab for it, lab in zip(items, res.labels, strict=True)}
        items = [it for it in items if it.trace.trace_id in chosen]
    cases = traces_to_cases(items, judge=judge, clusters=clusters)
    if adversarial:
        cases = merge(cases, AdversarialSet(adversarial).load(), weight=adversarial_weight)
    n = write_suite(cases, out)
    rep = session.report()
    typer.echo(
        f"wrote {n} cases to {out}; scrubbed {sum(rep.replaced.values())} entities {rep.replaced}"
    )


@app.command("shadow")
def shadow_cmd(
    primary: Annotated[Path, typer.Argument(help="Primary log (any trace format).")],
    shadow: Annotated[Path, typer.Argument(help="Shadow log, same trace ids.")],
    gold: Annotated[
        Path | None, typer.Option("--gold", help="JSONL {trace_id, fields} gold labels.")
    ] = None,
    fmt: FmtOpt = "auto",
    seed: SeedOpt = 0,
    resamples: Annotated[int, typer.Option("--resamples", help="Bootstrap resamples.")] = 2000,
    as_json: JsonOpt = False,
) -> None:
    """Join a primary and a shadow log by trace id: field accuracy, hallucinated fields,
    latency p50/p99, cost per 1k requests, each with a paired bootstrap interval.

    Example: nullband traces shadow primary.jsonl shadow.jsonl --gold labels.jsonl
    """
    from nullband.traces.shadow import shadow_files

    rep = shadow_files(primary, shadow, gold, fmt=fmt, seed=seed, resamples=resamples)
    if as_json:
        _out(rep.model_dump(mode="json"))
        return
    typer.echo(
        f"joined {rep.n_joined} requests (primary {rep.n_primary}, shadow {rep.n_shadow}, gold {rep.n_gold})"
    )
    for m in rep.metrics:
        if m.state != "ok" or m.interval is None or not m.interval.available:
            typer.echo(f"  {m.name:26} not enough data (n={m.n})")
            continue
        typer.echo(
            f"  {m.name:26} primary {m.primary:10.4f}  shadow {m.shadow:10.4f}  delta {m.delta:+.4f} "
            f"[{m.interval.lo:+.4f}, {m.interval.hi:+.4f}] ({m.interval.level:.0%}, n={m.n})"
        )


@adv_app.command("add")
def adv_add(
    path: Annotated[Path, typer.Argument(help="The adversarial set file.")],
    suites: Annotated[list[Path], typer.Argument(help="Suite JSONL files with the cases to add.")],
) -> None:
    """Append cases to the adversarial set (ids already there with the same content are skipped).

    Example: nullband traces adversarial add evals/adversarial.jsonl flagged.jsonl
    """
    from nullband.suite.loader import load_cases
    from nullband.traces.adversarial import AdversarialSet

    n = AdversarialSet(path).add(c for s in suites for c in load_cases(s))
    typer.echo(f"added {n} cases to {path}")


@adv_app.command("check")
def adv_check(path: Annotated[Path, typer.Argument(help="The adversarial set file.")]) -> None:
    """Verify that the adversarial set was only ever appended to.

    Example: nullband traces adversarial check evals/adversarial.jsonl
    """
    from nullband.traces.adversarial import AdversarialSet

    typer.echo(f"ok: {len(AdversarialSet(path).load())} cases, chain and manifest intact")


@adv_app.command("remove")
def adv_remove(
    path: Annotated[Path, typer.Argument(help="The adversarial set file.")],
    case_id: Annotated[str, typer.Argument(help="The case id.")],
) -> None:
    """Refused, always: the adversarial set only grows.

    Example: nullband traces adversarial remove evals/adversarial.jsonl case-17
    """
    from nullband.traces.adversarial import AdversarialSet

    AdversarialSet(path).remove(case_id)


@adv_app.command("merge")
def adv_merge(
    path: Annotated[Path, typer.Argument(help="The adversarial set file.")],
    suite: Annotated[Path, typer.Option("--suite", help="The suite to merge into.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Merged suite JSONL.")],
    weight: Annotated[float, typer.Option("--weight", help="Weight of adversarial cases.")] = 3.0,
) -> None:
    """Write the suite plus the adversarial cases (adversarial=true, the given weight).

    Example: nullband traces adversarial merge evals/adversarial.jsonl --suite replay.jsonl -o merged.jsonl
    """
    from nullband.suite.loader import load_cases
    from nullband.traces.adversarial import AdversarialSet, merge
    from nullband.traces.replay import write_suite

    n = write_suite(merge(load_cases(suite), AdversarialSet(path).load(), weight=weight), out)
    typer.echo(f"wrote {n} cases to {out}")


def register(app_: typer.Typer) -> None:
    """Add this group's commands to the top-level app."""
    app_.add_typer(app)
