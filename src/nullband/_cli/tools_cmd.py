"""CLI commands of the tools group: ``nullband import bfcl|taubench`` and
``nullband tools breakdown|rows|passk``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from pydantic import ValidationError

from nullband.errors import InputError, UsageError

if TYPE_CHECKING:  # records and cases load on first use: other commands start faster
    from nullband.records import Record
    from nullband.suite.case import Case

import_app = typer.Typer(
    name="import",
    help="Convert public benchmark files into nullband suites (and records).",
    no_args_is_help=True,
)
tools_app = typer.Typer(
    name="tools",
    help="Tool-call signals per target and per tool: selection, argument F1, recovery, "
    "trajectory length; paired per-tool deltas; pass^k.",
    no_args_is_help=True,
)

StoreOpt = Annotated[
    str | None, typer.Option("--store", help="SQLite path or postgresql:// URL of the run store.")
]


@import_app.command("bfcl")
def import_bfcl_cmd(
    folder: Annotated[
        Path, typer.Argument(help="Folder of BFCL *_questions.jsonl/*_possible_answers.jsonl.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Suite JSONL to write.")],
    category: Annotated[
        list[str] | None, typer.Option("--category", "-c", help="Only this category (repeatable).")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="First N rows per category.")] = None,
) -> None:
    """Convert BFCL questions and possible answers into a suite (score with `bfcl` and `tool_calls`).

    Example: nullband import bfcl ../shared/data/bfcl -o bfcl.jsonl --category simple --limit 50
    """
    from nullband.suite.importers import import_bfcl_dir, write_suite

    cases = import_bfcl_dir(folder, categories=category, limit=limit)
    n = write_suite(cases, out)
    typer.echo(f"wrote {n} cases to {out}")


@import_app.command("taubench")
def import_taubench_cmd(
    path: Annotated[Path, typer.Argument(help="A tau-bench results JSON file (list of trials).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Suite JSONL to write.")],
    records: Annotated[
        Path | None, typer.Option("--records", help="Also write the trials as Record JSONL here.")
    ] = None,
    target: Annotated[
        str, typer.Option("--target", help="Target name for the records.")
    ] = "gpt-4o",
    run_id: Annotated[str, typer.Option("--run-id", help="Run id for the records.")] = "taubench",
) -> None:
    """Convert tau-bench trajectories into a suite (one case per task) and records (one per trial).

    Example: nullband import taubench gpt-4o-airline.json -o tau.jsonl --records tau-records.jsonl
    """
    from nullband.suite.importers import import_taubench, write_suite

    cases, recs = import_taubench(path, run_id=run_id, target=target)
    write_suite(cases, out)
    msg = f"wrote {len(cases)} cases to {out}"
    if records is not None:
        write_suite(recs, records)
        msg += f" and {len(recs)} records to {records}"
    typer.echo(msg)


def _iter_record_file(path: Path) -> Iterator[Record]:
    from nullband.records import Record

    if not path.is_file():
        raise InputError("records file not found", path=path)
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                yield Record.model_validate_json(raw)
            except ValidationError as exc:
                err = exc.errors()[0]
                field = ".".join(str(p) for p in err["loc"]) or None
                raise InputError(err["msg"], path=path, line=lineno, field=field) from None


def _load(
    suite: Path | None, records: Path | None, store: str | None, run: str | None
) -> tuple[list[Case], list[Record]]:
    from nullband.suite import load_cases

    if records is not None:
        if suite is None:
            raise UsageError("--records needs --suite (the cases the records answer)")
        return load_cases(suite), list(_iter_record_file(records))
    if run is None:
        raise UsageError(
            "give --records FILE (with --suite), or --run RUN_ID (with --store)",
            hint="Example: nullband tools breakdown --run 01J... --store .nullband/runs.db",
        )
    from nullband.store import default_store_url, open_store

    with open_store(store or default_store_url()) as st:
        cases = load_cases(suite) if suite is not None else list(st.iter_cases(run))
        recs = list(st.iter_records(run))
    if not recs:
        raise UsageError(f"run {run!r} has no records in the store")
    return cases, recs


SuiteOpt = Annotated[Path | None, typer.Option("--suite", help="Suite JSONL of the cases.")]
RecordsOpt = Annotated[Path | None, typer.Option("--records", help="Record JSONL file.")]
RunOpt = Annotated[str | None, typer.Option("--run", help="Run id in the store.")]


BaselineOpt = Annotated[str | None, typer.Option("--baseline", help="Baseline target.")]
CandidateOpt = Annotated[str | None, typer.Option("--candidate", help="Candidate target.")]
MetricOpt = Annotated[
    list[str] | None, typer.Option("--metric", "-m", help="Signals to show (repeatable).")
]
ConfOpt = Annotated[float, typer.Option("--confidence", help="Interval level.")]
ResamplesOpt = Annotated[int, typer.Option("--resamples", help="Bootstrap resamples.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Bootstrap seed (stored).")]
MinCasesOpt = Annotated[
    int, typer.Option("--min-cases", help="Fewer paired rows than this: flagged low-confidence.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _show(
    rows: dict[str, list[Any]],
    *,
    signals: tuple[str, ...],
    dim: str,
    metric: list[str] | None,
    baseline: str | None,
    candidate: str | None,
    confidence: float,
    resamples: int,
    seed: int,
    min_cases: int,
    as_json: bool,
) -> None:
    from rich.console import Console

    from nullband.score.toolcalls.breakdown import compare_tools, summarize
    from nullband.score.toolcalls.render import deltas_table, signals_table

    metrics = metric or list(signals)
    unknown = sorted(set(metrics) - set(signals))
    if unknown:
        raise UsageError(f"unknown signal(s) {unknown}; choose from {', '.join(signals)}")
    if not rows:
        raise UsageError(f"no record could be scored per {dim} (do the cases have that gold?)")
    if (baseline is None) != (candidate is None):
        raise UsageError("give both --baseline and --candidate, or neither")
    console = Console()
    if baseline is not None and candidate is not None:
        missing = [t for t in (baseline, candidate) if t not in rows]
        if missing:
            raise UsageError(f"no records for target(s) {missing}; targets: {sorted(rows)}")
        deltas = compare_tools(
            rows[baseline],
            rows[candidate],
            metrics=metrics,
            min_cases=min_cases,
            confidence=confidence,
            resamples=resamples,
            seed=seed,
            dim=dim,
        )
        if as_json:
            typer.echo(orjson.dumps([d.model_dump(mode="json") for d in deltas]).decode())
        else:
            console.print(deltas_table(deltas, baseline, candidate, dim=dim))
        return
    out: list[Any] = []
    for target, target_rows in sorted(rows.items()):
        out.extend(
            summarize(
                target,
                target_rows,
                metrics=metrics,
                confidence=confidence,
                resamples=resamples,
                seed=seed,
                dim=dim,
            )
        )
    if as_json:
        typer.echo(orjson.dumps([s.model_dump(mode="json") for s in out]).decode())
    else:
        console.print(signals_table(out, metrics, dim=dim))


@tools_app.command("breakdown")
def breakdown_cmd(
    suite: SuiteOpt = None,
    records: RecordsOpt = None,
    run: RunOpt = None,
    store: StoreOpt = None,
    baseline: BaselineOpt = None,
    candidate: CandidateOpt = None,
    metric: MetricOpt = None,
    confidence: ConfOpt = 0.95,
    resamples: ResamplesOpt = 2000,
    seed: SeedOpt = 0,
    min_cases: MinCasesOpt = 20,
    as_json: JsonOpt = False,
) -> None:
    """Each signal (selection, arg_f1, recovery, length_delta, pass) per target and per
    tool with intervals; with --baseline/--candidate, the paired per-tool deltas.

    Example: nullband tools breakdown --run 01J9... --baseline gpt-4o --candidate ft-8b
    """
    from nullband.score.toolcalls.breakdown import SIGNALS, rows_for

    cases, recs = _load(suite, records, store, run)
    _show(
        rows_for(cases, recs),
        signals=SIGNALS,
        dim="tool",
        metric=metric,
        baseline=baseline,
        candidate=candidate,
        confidence=confidence,
        resamples=resamples,
        seed=seed,
        min_cases=min_cases,
        as_json=as_json,
    )


@tools_app.command("fields")
def fields_cmd(
    suite: SuiteOpt = None,
    records: RecordsOpt = None,
    run: RunOpt = None,
    store: StoreOpt = None,
    baseline: BaselineOpt = None,
    candidate: CandidateOpt = None,
    metric: MetricOpt = None,
    confidence: ConfOpt = 0.95,
    resamples: ResamplesOpt = 2000,
    seed: SeedOpt = 0,
    min_cases: MinCasesOpt = 20,
    as_json: JsonOpt = False,
) -> None:
    """Structured extraction per field: accuracy, hallucinated-field and omitted-field rates
    per target with intervals; with --baseline/--candidate, paired per-field deltas.

    Example: nullband tools fields --run 01J9... --baseline gpt-4o-mini --candidate ft-8b
    """
    from nullband.score.extraction import FIELD_SIGNALS, field_rows

    cases, recs = _load(suite, records, store, run)
    by_id = {c.id: c for c in cases}
    rows: dict[str, list[Any]] = {}
    for r in recs:
        case = by_id.get(r.case_id)
        if case is not None and isinstance(case.expected, dict) and "steps" not in case.expected:
            rows.setdefault(r.target, []).extend(field_rows(case, r))
    _show(
        rows,
        signals=FIELD_SIGNALS,
        dim="field",
        metric=metric,
        baseline=baseline,
        candidate=candidate,
        confidence=confidence,
        resamples=resamples,
        seed=seed,
        min_cases=min_cases,
        as_json=as_json,
    )


@tools_app.command("rows")
def rows_cmd(
    out: Annotated[Path, typer.Option("--out", "-o", help="ResultRow JSONL to write.")],
    target: Annotated[str, typer.Option("--target", help="Target whose rows to write.")],
    suite: SuiteOpt = None,
    records: RecordsOpt = None,
    run: RunOpt = None,
    store: StoreOpt = None,
) -> None:
    """Write per-tool result rows (segment `tool`) for `nullband compare --by tool`.

    Example: nullband tools rows --run 01J9... --target ft-8b -o ft-tools.jsonl
    """
    from nullband.score.toolcalls.breakdown import rows_for
    from nullband.suite.importers.common import write_jsonl

    cases, recs = _load(suite, records, store, run)
    rows = rows_for(cases, recs).get(target)
    if not rows:
        raise UsageError(f"no per-tool rows for target {target!r}")
    typer.echo(f"wrote {write_jsonl(rows, out)} rows to {out}")


@tools_app.command("trajectories")
def trajectories_cmd(
    suite: SuiteOpt = None,
    records: RecordsOpt = None,
    run: RunOpt = None,
    store: StoreOpt = None,
    confidence: ConfOpt = 0.95,
    resamples: ResamplesOpt = 2000,
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Per target: pooled recovery rate (with a trajectory-bootstrap interval), loops,
    length delta, selection, argument F1, final answers and pass^k.

    Example: nullband tools trajectories --suite tau.jsonl --records tau-records.jsonl
    """
    from nullband.score.toolcalls.trajectories import summarize_trajectories

    cases, recs = _load(suite, records, store, run)
    out = summarize_trajectories(cases, recs, confidence=confidence, resamples=resamples, seed=seed)
    if not out:
        raise UsageError("no record could be scored as a trajectory")
    if as_json:
        typer.echo(orjson.dumps([s.model_dump(mode="json") for s in out]).decode())
        return
    for s in out:
        rate = "—" if s.recovery_rate is None else f"{s.recovery_rate:.3f}"
        ci = "" if s.recovery_ci is None else f" [{s.recovery_ci[0]:.3f}, {s.recovery_ci[1]:.3f}]"
        passk = " ".join(f"pass^{k}={v:.3f}" for k, v in s.pass_k.items())
        typer.echo(
            f"{s.target}: {s.trajectories} trajectories, {s.tool_calls} tool calls, "
            f"{s.tool_errors} tool errors, recovered {s.recovered} ({rate}{ci}), "
            f"loops {s.loops}, mean length delta {_fmt(s.mean_length_delta)}, "
            f"selection {_fmt(s.mean_selection)}, arg F1 {_fmt(s.mean_arg_f1)}, "
            f"final answer {_fmt(s.final_answer_rate)}; {passk}"
        )
        for note in s.notes:
            typer.echo(f"  note: {note}")


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"


@tools_app.command("passk")
def passk_cmd(
    suite: SuiteOpt = None,
    records: RecordsOpt = None,
    run: RunOpt = None,
    store: StoreOpt = None,
    metric: Annotated[str, typer.Option("--metric", help="0/1 score that means success.")] = "pass",
) -> None:
    """tau-bench's pass^k per target for k = 1..epochs: mean over cases of C(c,k)/C(n,k).

    Example: nullband tools passk --suite tau.jsonl --records tau-records.jsonl
    """
    from nullband.score.trajectory import pass_hat_k

    _, recs = _load(suite, records, store, run)
    by: dict[str, dict[str, list[bool]]] = {}
    for r in recs:
        v = r.scores.get(metric)
        if r.status == "ok" and v is not None:
            by.setdefault(r.target, {}).setdefault(r.case_id, []).append(v >= 1.0 - 1e-6)
    if not by:
        raise UsageError(f"no record has the score {metric!r}")
    for target, cases in sorted(by.items()):
        counts = [(sum(v), len(v)) for v in cases.values()]
        kmax = min(n for _, n in counts)
        parts = [f"pass^{k}={pass_hat_k(counts, k):.4f}" for k in range(1, kmax + 1)]
        typer.echo(f"{target}: {len(counts)} cases, {kmax}+ trials each: " + " ".join(parts))


def register(app: typer.Typer) -> None:
    """Add this group's commands to the top-level app."""
    app.add_typer(import_app, name="import")
    app.add_typer(tools_app, name="tools")
