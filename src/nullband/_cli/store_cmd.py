"""CLI commands of the store group: runs, export, drift, score."""

from __future__ import annotations

import asyncio
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from nullband.errors import StoreError, UsageError

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="SQLite path or postgresql:// URL (default: $NULLBAND_STORE or .nullband/runs.db).",
    ),
]


class ViewFormat(StrEnum):
    """Output of the listing commands."""

    table = "table"
    json = "json"


class ExportFmt(StrEnum):
    """Results file formats."""

    jsonl = "jsonl"
    parquet = "parquet"


def _open(store: str | None) -> Any:
    """Open an existing store (a read command never creates an empty database)."""
    from nullband.store import default_store_url, open_store

    url = store or default_store_url()
    if "://" not in url and not Path(url).expanduser().is_file():
        raise StoreError(
            f"no store at {url}",
            hint="run `nullband run CONFIG` first, or pass --store / set NULLBAND_STORE",
        )
    return open_store(url)


def _json_out(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def _short(ts: Any) -> str:
    return ts.strftime("%Y-%m-%d %H:%M:%S") if ts is not None else "-"


def _precise(ts: Any) -> str:
    """Milliseconds too: a whole run often completes within one second."""
    return ts.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if ts is not None else "-"


def _runs(store: str | None, limit: int, drift: bool, fmt: ViewFormat) -> None:
    from rich.console import Console
    from rich.table import Table

    from nullband.store.drift import drift_summary

    with _open(store) as st:
        runs = st.list_runs(limit=limit)
        totals = st.run_totals([r.run_id for r in runs])
        drifts: dict[str, list[Any]] = {}
        if drift:
            for r in runs:
                names = sorted(set(r.targets) | set(totals[r.run_id]["served"]))
                drifts[r.run_id] = [drift_summary(st, r, t) for t in names]
    if fmt is ViewFormat.json:
        out = []
        for r in runs:
            t = totals[r.run_id]
            item: dict[str, Any] = {
                "run_id": r.run_id,
                "created_at": r.created_at.isoformat(),
                "status": r.status,
                "note": r.note,
                "config_path": r.config_path,
                "targets": r.targets,
                "n_cases": r.n_cases,
                "epochs": r.epochs,
                "records": t["records"],
                "ok": t["ok"],
                "spend_usd": t["usd"],
                "tokens": t["tokens"],
                "served": t["served"],
            }
            if drift:
                item["drift"] = [d.model_dump(mode="json") for d in drifts[r.run_id]]
            out.append(item)
        _json_out(out)
        return
    table = Table(title=f"runs in {st.url}", show_lines=False)
    table.add_column("run id", overflow="fold", min_width=13)
    for col in ("created (UTC)", "config", "targets", "cases", "status", "spend"):
        table.add_column(col)
    table.add_column("served models")
    if drift:
        table.add_column("drift")
    for r in runs:
        t = totals[r.run_id]
        want = r.n_cases * r.epochs * max(1, len(r.targets))
        served_lines = []
        for target, models in sorted(t["served"].items()):
            pinned = r.targets.get(target)
            shown = ", ".join(
                f"{m}{'' if m == pinned else ' (!)'} x{n}" for m, n in sorted(models.items())
            )
            served_lines.append(f"{target}: {shown}")
        row = [
            r.run_id,
            _short(r.created_at),
            r.config_path or "-",
            "\n".join(f"{k}={v}" for k, v in sorted(r.targets.items())),
            f"{r.n_cases} x{r.epochs} ({t['ok']}/{want} ok)",
            r.status + (f"\n{r.note}" if r.note else ""),
            f"${t['usd']:.4f}",
            "\n".join(served_lines) or "-",
        ]
        if drift:
            marks = []
            for d in drifts[r.run_id]:
                c = d.first_change
                if c is not None:
                    marks.append(
                        f"{d.target}: {len(d.pairs)} models/fps; {c.kind} changed at "
                        f"{c.case_id}#{c.epoch} {_short(c.at)}"
                    )
            row.append("\n".join(marks) or "none")
        table.add_row(*row)
    Console().print(table)
    if not runs:
        Console(stderr=True).print("no runs yet")


def _drift(
    run_id: str | None, store: str | None, targets: list[str] | None, last: int, fmt: ViewFormat
) -> None:
    from rich.console import Console
    from rich.table import Table

    from nullband.store.drift import drift_report

    with _open(store) as st:
        report = drift_report(st, run_id, targets=targets, last=last)
    if fmt is ViewFormat.json:
        _json_out(report.model_dump(mode="json"))
        return
    con = Console()
    con.print(f"[bold]drift of run {report.run_id}[/bold]")
    for d in report.within:
        verdict = "[red]changed[/red]" if d.drifted else "[green]stable[/green]"
        con.print(
            f"\n[bold]{d.target}[/bold] requested {d.requested}: {verdict}; {d.n_ok} ok records, "
            f"{d.mismatched} flagged as another model than pinned, {d.switches} switches"
        )
        t = Table("served", "fingerprint", "records", "first (case, time)", "last (case, time)")
        for s in d.sightings:
            t.add_row(
                s.served or "-",
                s.fingerprint or "-",
                str(s.n),
                f"{s.first_case_id}#{s.first_epoch} {_precise(s.first_at)}",
                f"{s.last_case_id}#{s.last_epoch} {_precise(s.last_at)}",
            )
        con.print(t)
        for c in d.changes:
            con.print(
                f"  {c.kind} changed at {c.case_id}#{c.epoch} ({_precise(c.at)}, record "
                f"{c.position + 1} in time order): {c.from_served}/{c.from_fingerprint} -> "
                f"{c.to_served}/{c.to_fingerprint}"
            )
    for h in report.across:
        con.print(f"\n[bold]{h.target}[/bold] ({h.requested}) over its last {len(h.runs)} runs")
        t = Table()
        t.add_column("run id", overflow="fold", min_width=13)
        for col in ("created (UTC)", "status", "served / fingerprint (records)"):
            t.add_column(col)
        for r in h.runs:
            pairs = ", ".join(f"{p.served}/{p.fingerprint} ({p.n})" for p in r.pairs) or "-"
            t.add_row(r.run_id, _short(r.created_at), r.status, pairs)
        con.print(t)
        if not h.changes:
            con.print("  no change across these runs")
        for hc in h.changes:
            gone = ", ".join(f"{a}/{b}" for a, b in hc.gone) or "nothing"
            con.print(
                f"  {hc.kind} changed in run {hc.run_id} (after {hc.previous_run_id}): "
                f"{hc.served}/{hc.fingerprint} first served {hc.case_id}#{hc.epoch} at "
                f"{_precise(hc.at)}; gone: {gone}"
            )


def register(app: typer.Typer) -> None:
    """Add this group's commands to the top-level app."""

    @app.command("runs")
    def runs_cmd(
        store: StoreOpt = None,
        limit: Annotated[int, typer.Option("--limit", min=1, help="Most recent N runs.")] = 20,
        drift: Annotated[
            bool, typer.Option("--drift", help="Add whether served models changed.")
        ] = False,
        fmt: Annotated[ViewFormat, typer.Option("--format", help="table or json.")] = (
            ViewFormat.table
        ),
    ) -> None:
        """List stored runs: id, config, targets, cases, status, spend, served models.

        Example: nullband runs --drift --store .nullband/runs.db
        """
        _runs(store, limit, drift, fmt)

    @app.command("export")
    def export_cmd(
        run_id: Annotated[str, typer.Argument(help="The run to export.")],
        target: Annotated[
            str | None, typer.Option("--target", help="Target to export (needed if several).")
        ] = None,
        fmt: Annotated[ExportFmt, typer.Option("--format", help="jsonl or parquet.")] = (
            ExportFmt.jsonl
        ),
        output: Annotated[
            Path | None, typer.Option("--output", "-o", help="File to write (default stdout).")
        ] = None,
        store: StoreOpt = None,
    ) -> None:
        """Write a run's results file (one row per case and epoch) for `nullband compare`.

        Example: nullband export 01JABC... --target candidate --output cand.jsonl
        """
        from nullband.store.export import export_results

        if fmt is ExportFmt.parquet and output is None:
            raise UsageError("parquet is binary: give --output FILE")
        with _open(store) as st:
            if output is None:
                try:
                    export_results(st, run_id, sys.stdout.buffer, target=target, fmt=fmt.value)
                except BrokenPipeError:
                    # `nullband export ... | head`: the reader left; that is not an error.
                    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                    return
            else:
                n = export_results(st, run_id, output, target=target, fmt=fmt.value)
                typer.echo(f"wrote {n} rows to {output}", err=True)

    @app.command("drift")
    def drift_cmd(
        run_id: Annotated[
            str | None, typer.Argument(help="The run (default: the most recent).")
        ] = None,
        target: Annotated[
            list[str] | None, typer.Option("--target", help="Only these targets (repeatable).")
        ] = None,
        last: Annotated[
            int, typer.Option("--last", min=1, help="Recent runs of the same target to compare.")
        ] = 10,
        fmt: Annotated[ViewFormat, typer.Option("--format", help="table or json.")] = (
            ViewFormat.table
        ),
        store: StoreOpt = None,
    ) -> None:
        """Show which models and fingerprints served, within a run and across recent runs.

        Example: nullband drift --target candidate --last 5
        """
        _drift(run_id, store, target, last, fmt)

    @app.command("score")
    def score_cmd(
        run_id: Annotated[str, typer.Argument(help="The run to re-score.")],
        scorer: Annotated[
            list[str] | None,
            typer.Option("--scorer", help="Scorer to apply (repeatable; default: the config's)."),
        ] = None,
        store: StoreOpt = None,
    ) -> None:
        """Re-score a stored run from its stored outputs, calling no target model.

        Example: nullband score 01JABC... --scorer exact --scorer json
        """
        from nullband.store.rescore import rescore_run

        with _open(store) as st:
            summary = asyncio.run(rescore_run(st, run_id, scorer))
        typer.echo(
            f"re-scored run {summary.run_id} with {', '.join(summary.scorers)} "
            f"(cases from the {summary.case_source})"
        )
        for name, t in sorted(summary.targets.items()):
            verdicts = t.passed + t.failed
            rate = f"{t.passed / verdicts:.1%}" if verdicts else "no verdicts"
            typer.echo(
                f"  {name}: {t.records} records, pass {t.passed}/{verdicts} ({rate}), "
                f"{t.errors} failed calls, {t.no_verdict} without a verdict"
            )
