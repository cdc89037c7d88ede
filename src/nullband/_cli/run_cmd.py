"""CLI commands of the run group: ``run``, ``validate`` and ``schema``."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from nullband.errors import ConfigError, UsageError

if TYPE_CHECKING:  # the config models load on first use: other commands start faster
    from nullband.config.models import EvalConfig

SchemaName = Literal["config", "case", "results", "record"]

EXIT_INTERRUPTED = 130
EXIT_STOPPED_BUDGET = 3


def load_config(path: Path) -> EvalConfig:
    """Read and validate an eval config (see :func:`load_config_node`)."""
    return load_config_node(path)[0]


def load_config_node(path: Path) -> tuple[EvalConfig, Any]:
    """Read and validate an eval config, and check every key variable is set.

    Raises:
        ConfigError: unreadable, not YAML, an invalid field, or a key variable unset
            (the message names the file, line and field).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", path=path) from None
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror}", path=path) from None
    from nullband.config.models import EvalConfig
    from nullband.config.yamlfile import _line_of, parse_yaml, validate_data

    data, node = parse_yaml(text, path)
    config = validate_data(EvalConfig, data, node, path)
    for i, t in enumerate(config.targets):
        if t.api_key_env is not None and not os.environ.get(t.api_key_env):
            loc: tuple[int | str, ...] = ("targets", i, "api_key_env")
            raise ConfigError(
                f"target {t.name!r}: environment variable {t.api_key_env} is not set",
                path=path,
                line=_line_of(node, loc),
                field=f"targets.{i}.api_key_env",
                hint=f"export {t.api_key_env}=... before running (the key is read from the "
                "environment and never written anywhere)",
            )
    return config, node


def _store_for(config: EvalConfig, store: str | None) -> str:
    if store:
        return store
    if "store" in config.model_fields_set:
        return config.store
    return os.environ.get("NULLBAND_STORE") or config.store


def _warn_aliases(config: EvalConfig, path: Path) -> int:
    from nullband.targets.alias import lint_aliases

    warnings = lint_aliases(config)
    for w in warnings:
        typer.echo(f"warning: {path}: {w.message()}", err=True)
    return len(warnings)


def run(
    config: Annotated[Path, typer.Argument(help="Eval config (YAML).")],
    run_id: Annotated[
        str | None, typer.Option("--run-id", help="Resume this run (or create it by this id).")
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option("--shard", help="Run shard i/n of the keys (with --run-id), e.g. 2/4."),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option("--store", help="SQLite path or postgresql:// URL (overrides the config)."),
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option("--metrics-port", help="Serve Prometheus metrics on 127.0.0.1:PORT."),
    ] = None,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Run an eval config against its targets and store every call.

    Running again with an existing --run-id resumes: completed (case, target, epoch) keys are never called again; failed or missing ones are. With --shard i/n, n processes given the same --run-id split the keys between them (use a PostgreSQL store to spread them over machines). Ctrl-C stops new calls and lets calls in flight finish (a second Ctrl-C abandons them); the run is resumable.

    Exit codes: 0 completed, 3 stopped at the budget cap (raise it and resume), 130 interrupted (resume it), 2 bad input.

    Example: nullband run examples/config.yaml --run-id nightly-42 --shard 1/4
    """
    from nullband.run.runner import run_eval

    cfg = load_config(config)
    if metrics_port is not None and not 0 < metrics_port < 65536:
        raise UsageError(f"--metrics-port {metrics_port} is not a TCP port (1-65535)")
    cfg = cfg.model_copy(update={"store": _store_for(cfg, store)})
    _warn_aliases(cfg, config)
    summary = asyncio.run(
        run_eval(
            cfg,
            config_path=config,
            run_id=run_id,
            shard=shard,
            progress=not no_progress,
            metrics_port=metrics_port,
        )
    )
    if as_json:
        typer.echo(summary.model_dump_json(indent=2))
    else:
        _print_summary(summary)
    if summary.status == "interrupted":
        raise typer.Exit(EXIT_INTERRUPTED)
    if summary.status == "stopped_budget":
        raise typer.Exit(EXIT_STOPPED_BUDGET)


def _print_summary(s: Any) -> None:
    lines = [
        f"run {s.run_id}: {s.status}" + (f" (shard {s.shard})" if s.shard else ""),
        f"  store      {s.store}",
        f"  keys       {s.total} ({s.skipped} already done, {s.ok} ok, {s.errors} errors, "
        f"{s.not_started} not started)",
        f"  spend      ${s.spend_usd:.4f} now, ${s.run_spend_usd:.4f} for the run; "
        f"{s.tokens} tokens",
        f"  time       {s.elapsed_s:.1f} s ({s.rate:.1f} calls/s)",
    ]
    for target, models in s.served_models.items():
        lines.append(f"  served     {target}: {', '.join(models) or '-'}")
    if s.mismatches:
        lines.append(f"  MISMATCH   {s.mismatches} call(s) served by a model other than pinned")
    if s.note:
        lines.append(f"  note       {s.note}")
    typer.echo("\n".join(lines))


def validate(
    config: Annotated[Path, typer.Argument(help="Eval config (YAML).")],
    strict: Annotated[
        bool, typer.Option("--strict", help="Treat floating-alias warnings as errors.")
    ] = False,
) -> None:
    """Check a config and its suites without calling any model.

    Reports bad YAML, unknown fields, invalid suite lines, duplicate case ids and unset key variables with file, line and field (exit 2), and warns about floating model aliases such as 'gpt-4o' or '...-latest' (allow them with alias_allow or allow_alias).

    Example: nullband validate examples/config.yaml
    """
    from nullband.run.plan import load_plan
    from nullband.score.registry import load_scorers

    cfg, node = load_config_node(config)
    plan = load_plan(cfg, config, node=node)
    load_scorers(cfg.scorer_specs())
    n_warn = _warn_aliases(cfg, config)
    suites = len(cfg.suite_refs())
    typer.echo(
        f"ok: {config}: {len(cfg.targets)} target(s), {len(plan.cases)} case(s) in "
        f"{suites} suite(s), {cfg.epochs} epoch(s), "
        f"{len(plan.cases) * len(cfg.targets) * cfg.epochs} call(s); "
        f"scorers: {', '.join(s.name for s in cfg.scorer_specs()) or '-'}"
    )
    if n_warn and strict:
        raise typer.Exit(2)


def schema(
    name: Annotated[str, typer.Argument(help="config, case, results or record.")] = "config",
) -> None:
    """Print the JSON Schema of a file format.

    config: the eval config (YAML); case: one suite line; results: one line of an exported results file; record: one stored call.

    Example: nullband schema config > eval-config.schema.json
    """
    from nullband.config.models import EvalConfig
    from nullband.records import Record, ResultRow
    from nullband.suite.case import Case

    models: dict[str, Any] = {
        "config": EvalConfig,
        "case": Case,
        "results": ResultRow,
        "record": Record,
    }
    if name not in models:
        raise UsageError(f"unknown schema {name!r}", hint=f"use one of {', '.join(models)}")
    doc = models[name].model_json_schema()
    doc = {"$schema": "https://json-schema.org/draft/2020-12/schema", **doc}
    sys.stdout.write(json.dumps(doc, indent=2) + "\n")


def register(app: typer.Typer) -> None:
    """Add this group's commands to the top-level app."""
    app.command("run")(run)
    app.command("validate")(validate)
    app.command("schema")(schema)
