"""CLI commands of the judge group: ``judge audit``, ``judge show`` and ``judge check``."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from nullband.errors import InputError, UsageError

EXIT_UNTRUSTED = 1
EXIT_INVALID = 4

judge_app = typer.Typer(
    name="judge",
    help="Measure LLM judges: self-consistency, position bias, ensemble and human agreement.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add this group's commands to the top-level app."""
    app.add_typer(judge_app, name="judge")


@judge_app.command("audit")
def audit(
    config: Annotated[Path, typer.Argument(help="Audit config (YAML).")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the audit result (JSON) here.")
    ] = None,
    samples: Annotated[
        int | None, typer.Option("--samples", help="Override the asks per item per judge.")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Override the bootstrap seed.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    report_only: Annotated[
        bool, typer.Option("--report-only", help="Exit 0 even when the judge is not trusted.")
    ] = False,
) -> None:
    """Audit a judge (or a panel): ask every item several times in both orders, then
    report flip rates, position bias, agreement between judges (Krippendorff's alpha)
    and with human labels (kappa, weighted kappa, McNemar), each with a bootstrap
    interval, and apply the trust floors.

    Judge calls bypass the judge cache (asking again is the measurement). Exit codes:
    0 trusted, 1 not trusted (the trust gate failed), 2 bad input.

    Example: nullband judge audit examples/judges/audit.yaml --out judge-audit.json
    """
    from nullband.config.yamlfile import load_yaml_model
    from nullband.judges.audit_run import AuditConfig, run_audit

    cfg = load_yaml_model(config, AuditConfig)
    update: dict[str, object] = {}
    if samples is not None:
        if samples < 1:
            raise UsageError(f"--samples {samples} must be at least 1")
        update["samples"] = samples
    if seed is not None:
        update["bootstrap"] = cfg.bootstrap.model_copy(update={"seed": seed})
    if update:
        cfg = cfg.model_copy(update=update)
    result = asyncio.run(run_audit(cfg, base_dir=config.parent))
    text = result.model_dump_json(indent=2)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
    if as_json:
        typer.echo(text)
    else:
        from nullband.judges.render import render_audit

        typer.echo(render_audit(result))
        if out is not None:
            typer.echo(f"audit written to {out}")
    if not result.trusted and not report_only:
        raise typer.Exit(EXIT_UNTRUSTED)


def _read_audit(path: Path) -> object:
    from nullband.judges.audit import JudgeAudit

    try:
        return JudgeAudit.model_validate_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read the audit: {exc.strerror}", path=path) from None
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(x) for x in err["loc"]) or None
        raise InputError(
            f"not a judge audit result: {err['msg']}",
            path=path,
            field=field,
            hint="write one with `nullband judge audit CONFIG --out FILE`",
        ) from None


@judge_app.command("show")
def show(
    audit_file: Annotated[Path, typer.Argument(help="Audit result (JSON) from `judge audit`.")],
) -> None:
    """Print a saved audit result as tables.

    Example: nullband judge show judge-audit.json
    """
    from nullband.judges.audit import JudgeAudit
    from nullband.judges.render import render_audit

    result = _read_audit(audit_file)
    assert isinstance(result, JudgeAudit)
    typer.echo(render_audit(result))


@judge_app.command("summary")
def summary(
    run_id: Annotated[str, typer.Argument(help="The eval run.")],
    store: Annotated[
        str, typer.Option("--store", help="SQLite path or postgresql:// URL of the runs.")
    ] = ".nullband/runs.db",
    ledger: Annotated[
        Path | None,
        typer.Option("--ledger", help="Judge cache/ledger file with per-run usage."),
    ] = Path(".nullband/judge-cache.db"),
    metric: Annotated[
        list[str] | None, typer.Option("--metric", help="Judge metric to summarise (repeatable).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """What the judges did in a run: scored, dropped (panel split) and unreadable records,
    the share of inconsistent both-order pairs, and calls, tokens and cost per judge.

    Example: nullband judge summary 01J9ZK3T --store .nullband/runs.db
    """
    from nullband.judges.cache import JudgeCache
    from nullband.judges.call import JudgeUsage
    from nullband.judges.summary import JudgeRunSummary, summarize_records
    from nullband.store import open_store

    st = open_store(store)
    try:
        if st.get_run(run_id) is None:
            raise UsageError(f"no run {run_id!r} in {store}", hint="list runs with `nullband runs`")
        metrics = summarize_records(st.iter_records(run_id), metric)
    finally:
        st.close()
    usage: list[JudgeUsage] = []
    if ledger is not None and ledger.exists():
        book = JudgeCache(ledger)
        try:
            usage = [JudgeUsage.model_validate(row) for row in book.usage(run_id)]
        finally:
            book.close()
    result = JudgeRunSummary(run_id=run_id, metrics=metrics, usage=usage)
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    if not metrics:
        typer.echo(f"run {run_id}: no judge metrics found")
    for m in metrics:
        share = "n/a" if m.dropped_share is None else f"{m.dropped_share:.1%}"
        mean = "n/a" if m.mean is None else f"{m.mean:.3f}"
        typer.echo(
            f"{m.metric}: {m.scored} of {m.records} records scored (mean {mean}); dropped "
            f"{m.dropped} ({share}), unreadable {m.unreadable}, failed {m.failed}, "
            f"not asked (budget) {m.not_asked}, other {m.other}"
        )
        if m.inconsistent_share is not None:
            typer.echo(f"  both-order pairs inconsistent: {m.inconsistent_share:.1%} on average")
    for u in usage:
        typer.echo(
            f"judge {u.judge} ({u.model}): {u.calls} calls, {u.cache_hits} cache hits, "
            f"{u.errors} failed, {u.unparsed} unreadable, "
            f"{u.input_tokens}+{u.output_tokens} tokens, ${u.cost_usd:.4f}"
        )


@judge_app.command("check")
def check(
    audit_file: Annotated[Path, typer.Argument(help="Audit result (JSON) from `judge audit`.")],
    metric: Annotated[
        str, typer.Option("--metric", help="The judge-derived metric a gate uses.")
    ] = "judge",
    judge: Annotated[
        list[str] | None,
        typer.Option("--judge", help="A judge name the metric used (repeatable)."),
    ] = None,
    allow_untrusted: Annotated[
        bool,
        typer.Option("--allow-untrusted", help="Accept an untrusted judge (flagged, exit 0)."),
    ] = False,
) -> None:
    """Say whether a gate may rely on the audited judge: exit 0 when trusted (or
    explicitly allowed), 4 INVALID when it is not.

    Example: nullband judge check judge-audit.json --metric judge_pairwise
    """
    from nullband.judges.audit import JudgeAudit
    from nullband.judges.trust import check_judges_for_gate

    result = _read_audit(audit_file)
    assert isinstance(result, JudgeAudit)
    verdict = check_judges_for_gate(
        result, metric=metric, judges=judge, allow_untrusted=allow_untrusted
    )
    typer.echo(json.dumps(verdict.model_dump(), indent=2))
    if verdict.decision == "invalid":
        sys.stderr.write("INVALID: " + verdict.reasons[0] + "\n")
        raise typer.Exit(EXIT_INVALID)
