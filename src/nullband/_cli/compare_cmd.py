"""CLI commands of the compare group: `compare` (with gates and reports) and `plan`."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from nullband.errors import NullbandError, UsageError


class Fmt(StrEnum):
    """Report formats of `compare`."""

    table = "table"
    json = "json"
    markdown = "markdown"
    junit = "junit"
    html = "html"


class PlanFmt(StrEnum):
    """Output formats of `plan`."""

    table = "table"
    json = "json"


class CIChoice(StrEnum):
    """Bootstrap interval kinds."""

    percentile = "percentile"
    bca = "bca"


class ErrorChoice(StrEnum):
    """What to do with rows whose call failed."""

    fail = "fail"
    exclude = "exclude"


def _fail(exc: NullbandError) -> typer.Exit:
    sys.stderr.write(f"error: {exc}\n")
    return typer.Exit(exc.exit_code)


def _source(label: str, target: str | None, store: str | None) -> tuple[Any, Any]:
    from nullband.compare import SourceInfo, load_results

    rows = load_results(label, target=target, store=store)
    kind = "file" if Path(label).is_file() else "run"
    return rows, SourceInfo(label=label, kind=kind, target=target, rows=len(rows))


def _split(values: list[str]) -> list[str]:
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def compare(
    baseline: Annotated[str, typer.Argument(help="Baseline: a results file or a run id.")],
    candidate: Annotated[str, typer.Argument(help="Candidate: a results file or a run id.")],
    metric: Annotated[
        str | None,
        typer.Option("--metric", help="Score to compare (default: the gate's, else pass)."),
    ] = None,
    by: Annotated[
        list[str], typer.Option("--by", help="Segment dimension; repeat or comma-separate.")
    ] = [],  # noqa: B006 - typer needs a literal default
    config: Annotated[
        Path | None, typer.Option("--config", help="Gate config (YAML); see examples/gates/.")
    ] = None,
    confidence: Annotated[
        float | None, typer.Option("--confidence", help="Confidence level (default 0.95).")
    ] = None,
    resamples: Annotated[int, typer.Option("--resamples", help="Bootstrap resamples.")] = 10_000,
    seed: Annotated[int, typer.Option("--seed", help="Bootstrap seed (stored in reports).")] = 0,
    fmt: Annotated[Fmt, typer.Option("--format", help="Report format.")] = Fmt.table,
    output: Annotated[
        Path | None, typer.Option("--output", help="Write the report here instead of stdout.")
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            "--store", help="Store for run ids (default $NULLBAND_STORE or .nullband/runs.db)."
        ),
    ] = None,
    target: Annotated[
        str | None, typer.Option("--target", help="Target of both runs (when a run has several).")
    ] = None,
    baseline_target: Annotated[
        str | None, typer.Option("--baseline-target", help="Target of the baseline run.")
    ] = None,
    candidate_target: Annotated[
        str | None, typer.Option("--candidate-target", help="Target of the candidate run.")
    ] = None,
    ci_method: Annotated[
        CIChoice, typer.Option("--ci-method", help="Bootstrap interval: percentile or bca.")
    ] = CIChoice.percentile,
    min_cases: Annotated[
        int | None, typer.Option("--min-cases", help="Segments below this are flagged, not gated.")
    ] = None,
    errors: Annotated[
        ErrorChoice,
        typer.Option(
            "--errors", help="Errored calls: 'fail' scores them 0; 'exclude' drops the case."
        ),
    ] = ErrorChoice.fail,
    judge_audit: Annotated[
        Path | None,
        typer.Option(
            "--judge-audit", help="JSON of `nullband judge audit` for judge-derived metrics."
        ),
    ] = None,
) -> None:
    """Compare a baseline and a candidate with paired statistics, per segment, and gate.

    Exit codes: 0 PASS (or no gate), 1 FAIL, 2 usage or input error, 3 INCONCLUSIVE,
    4 INVALID.

    Example: nullband compare base.jsonl cand.jsonl --by customer --config examples/gates/promotion.yaml
    """
    try:
        code = _compare(
            baseline,
            candidate,
            metric,
            _split(by),
            config,
            confidence,
            resamples,
            seed,
            fmt,
            output,
            store,
            baseline_target or target,
            candidate_target or target,
            ci_method.value,
            min_cases,
            errors.value,
            judge_audit,
        )
    except NullbandError as exc:
        raise _fail(exc) from None
    raise typer.Exit(code)


def _compare(
    baseline: str,
    candidate: str,
    metric: str | None,
    by: list[str],
    config: Path | None,
    confidence: float | None,
    resamples: int,
    seed: int,
    fmt: Fmt,
    output: Path | None,
    store: str | None,
    b_target: str | None,
    c_target: str | None,
    ci_method: str,
    min_cases: int | None,
    errors: str,
    judge_audit: Path | None,
) -> int:
    import orjson

    from nullband.compare import load_gate, run_comparison
    from nullband.report import print_table, render

    if confidence is not None and not 0 < confidence < 1:
        raise UsageError(f"--confidence must be between 0 and 1, got {confidence}")
    gate = load_gate(config) if config is not None else None
    audit = None
    if judge_audit is not None:
        try:
            audit = orjson.loads(judge_audit.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise UsageError(f"cannot read the judge audit {judge_audit}: {exc}") from None
    rows_b, src_b = _source(baseline, b_target, store)
    rows_c, src_c = _source(candidate, c_target, store)
    cmp = run_comparison(
        rows_b,
        rows_c,
        gate=gate,
        metric=metric,
        by=by,
        confidence=confidence,
        resamples=resamples,
        seed=seed,
        ci_method=ci_method,  # type: ignore[arg-type]
        min_cases=min_cases,
        errors=errors,  # type: ignore[arg-type]
        judge_audit=audit,
        gate_path=str(config) if config else None,
        baseline_source=src_b,
        candidate_source=src_c,
    )
    code = cmp.gate.exit_code if cmp.gate else 0
    if output is not None:
        output.write_text(render(cmp, fmt.value), encoding="utf-8")
        decision = cmp.gate.decision if cmp.gate else "no gate"
        typer.echo(f"{decision}: wrote {fmt.value} report to {output}")
    elif fmt == Fmt.table:
        from rich.console import Console

        console = Console(highlight=False)
        if not console.is_terminal:
            console = Console(highlight=False, width=160)
        print_table(cmp, console)
    else:
        sys.stdout.write(render(cmp, fmt.value))  # type: ignore[arg-type]
    return code


def plan(
    baseline_rate: Annotated[
        float | None, typer.Option("--baseline-rate", help="Baseline pass rate, e.g. 0.71.")
    ] = None,
    discordance: Annotated[
        float | None,
        typer.Option(
            "--discordance", help="Share of cases where exactly one side passes, e.g. 0.14."
        ),
    ] = None,
    effect: Annotated[
        list[float],
        typer.Option("--effect", help="Effect to detect as a fraction (0.02 = 2 points)."),
    ] = [],  # noqa: B006
    cases: Annotated[list[int], typer.Option("--cases", help="Suite size to get the MDE of.")] = [],  # noqa: B006
    baseline: Annotated[
        str | None, typer.Option("--baseline", help="A previous baseline (results file or run id).")
    ] = None,
    candidate: Annotated[
        str | None,
        typer.Option("--candidate", help="A previous candidate, to estimate discordance."),
    ] = None,
    metric: Annotated[
        str, typer.Option("--metric", help="Binary metric of the previous runs.")
    ] = "pass",
    store: Annotated[str | None, typer.Option("--store", help="Store for run ids.")] = None,
    target: Annotated[str | None, typer.Option("--target", help="Target of the runs.")] = None,
    confidence: Annotated[float, typer.Option("--confidence", help="Two-sided level.")] = 0.95,
    power: Annotated[float, typer.Option("--power", help="Power.")] = 0.8,
    fmt: Annotated[PlanFmt, typer.Option("--format", help="table or json.")] = PlanFmt.table,
) -> None:
    """Plan a suite: cases needed for an effect (paired and unpaired) and the MDE of a size.

    Discordance comes from --discordance or from a previous pair of runs
    (--baseline and --candidate, results files or run ids).

    Example: nullband plan --baseline-rate 0.71 --discordance 0.138 --effect 0.02 --cases 840
    """
    try:
        from nullband.compare.plan import make_plan, render_plan

        prev = None
        if (baseline is None) != (candidate is None):
            raise UsageError("give both --baseline and --candidate, or neither")
        if baseline is not None and candidate is not None:
            rows_b, _ = _source(baseline, target, store)
            rows_c, _ = _source(candidate, target, store)
            prev = (rows_b, rows_c)
        result = make_plan(
            baseline_rate=baseline_rate,
            discordance=discordance,
            effects=effect,
            cases=cases,
            previous=prev,
            metric=metric,
            confidence=confidence,
            power=power,
        )
    except NullbandError as exc:
        raise _fail(exc) from None
    if fmt == PlanFmt.json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
    else:
        sys.stdout.write(render_plan(result))


def register(app: typer.Typer) -> None:
    """Add this group's commands to the top-level app."""
    app.command("compare")(compare)
    app.command("plan")(plan)
