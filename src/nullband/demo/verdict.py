"""The demo's last step: compare the first candidate (baseline) with each other one, gate it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    from nullband.demo.orchestrate import DemoResult


def compare_candidates(result: DemoResult, store: str, gate: Path | None, console: Console) -> None:
    """Compare ``result.candidates[0]`` with each later candidate and apply ``gate``.

    Sets ``result.comparison``, ``result.decision`` and ``result.exit_code`` (of the last
    comparison). Prints the comparison table and the gate's decision with its reasons.
    """
    from nullband.compare import load_gate, load_results, run_comparison
    from nullband.compare.model import SourceInfo
    from nullband.report.terminal import print_table

    gate_cfg = load_gate(gate) if gate is not None else None
    base = result.candidates[0]
    base_rows = load_results(base.run_id, target=base.target, store=store)
    for cand in result.candidates[1:]:
        rows = load_results(cand.run_id, target=cand.target, store=store)
        console.print(
            f"\n[bold]comparison[/]: {cand.target} (run {cand.run_id}) against "
            f"{base.target} (run {base.run_id}), paired by case"
        )
        cmp = run_comparison(
            base_rows,
            rows,
            gate=gate_cfg,
            by=["kind"],
            seed=0,
            gate_path=str(gate) if gate is not None else None,
            baseline_source=SourceInfo(
                label=base.run_id, kind="run", target=base.target, rows=len(base_rows)
            ),
            candidate_source=SourceInfo(
                label=cand.run_id, kind="run", target=cand.target, rows=len(rows)
            ),
        )
        print_table(cmp, console)
        result.comparison = cmp
        if cmp.gate is not None:
            result.decision = cmp.gate.decision
            result.exit_code = cmp.gate.exit_code
