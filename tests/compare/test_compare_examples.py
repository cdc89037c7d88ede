"""The example gate files load and mean what their names say."""

from __future__ import annotations

from pathlib import Path

import pytest

from nullband.compare import (
    FloorRule,
    NonInferiorityRule,
    SuperiorityRule,
    WorstSegmentRule,
    load_gate,
)
from nullband.errors import ConfigError

GATES = Path(__file__).resolve().parents[2] / "examples" / "gates"


def test_all_example_gates_validate() -> None:
    files = sorted(GATES.glob("*.yaml"))
    assert {f.name for f in files} >= {
        "promotion.yaml",
        "cheaper-swap.yaml",
        "customer-floor.yaml",
        "lora-parity.yaml",
    }
    for f in files:
        load_gate(f)


def test_example_gates_encode_their_policies() -> None:
    promo = load_gate(GATES / "promotion.yaml")
    assert isinstance(promo.rules[0], SuperiorityRule)
    swap = load_gate(GATES / "cheaper-swap.yaml")
    ni = [r for r in swap.rules if isinstance(r, NonInferiorityRule)]
    assert ni[0].margin == pytest.approx(0.01)
    assert swap.weights == {"adversarial": 3.0}
    floor = load_gate(GATES / "customer-floor.yaml")
    fr = next(r for r in floor.rules if isinstance(r, FloorRule))
    assert (fr.floor, fr.by, floor.min_cases) == (0.85, "customer", 20)
    lora = load_gate(GATES / "lora-parity.yaml")
    ws = next(r for r in lora.rules if isinstance(r, WorstSegmentRule))
    assert (ws.by, ws.margin) == ("adapter", pytest.approx(0.005))
    assert lora.provenance.same_on_both_sides


def test_bad_gate_names_line_and_field(tmp_path: Path) -> None:
    p = tmp_path / "g.yaml"
    p.write_text("rules:\n  - kind: floor\n    by: customer\n    flor: 0.8\n")
    with pytest.raises(ConfigError) as err:
        load_gate(p)
    assert "g.yaml:" in str(err.value)
    p.write_text("rules:\n  - kind: superiority\n    scope: weighted\n")
    with pytest.raises(ConfigError, match="weights"):
        load_gate(p)
