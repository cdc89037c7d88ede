"""The embedded model (SmolLM2-135M via llama-cpp-python's server) as a judge: the audit
runs end to end, reports its consistency honestly, and a gate relying on it is INVALID."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from nullband.compare.gate_config import load_gate
from nullband.compare.run import run_comparison
from nullband.judges.audit import JudgeAudit
from nullband.judges.trust import check_judges_for_gate
from nullband.records import ResultRow

pytestmark = pytest.mark.slow

# A 135M model cannot follow the default "explain, then [[A]]" prompt; this is the prompt
# it answers most readably (tried by hand), so the audit measures verdicts, not parse errors
SHORT_TEMPLATE = (
    "Question: {question}\nAnswer A: {answer_a}\nAnswer B: {answer_b}\n"
    "Which answer is correct, A or B? Reply with one letter."
)
QUESTIONS = [
    ("What is 2+2?", "4", "5"),
    ("What is the capital of France?", "Paris", "Berlin"),
    ("How many legs does a spider have?", "Eight", "Six"),
    ("Which planet is closest to the sun?", "Mercury", "Jupiter"),
    ("At what Celsius temperature does water boil at sea level?", "100", "50"),
]


def _estimates(obj: Any) -> list[dict[str, Any]]:
    """Every Estimate-shaped dict inside the audit JSON."""
    found: list[dict[str, Any]] = []
    if isinstance(obj, dict):
        if {"value", "status", "n", "method"} <= obj.keys():
            found.append(obj)
        for v in obj.values():
            found.extend(_estimates(v))
    elif isinstance(obj, list):
        for v in obj:
            found.extend(_estimates(v))
    return found


def test_embedded_model_audit_is_honest_and_untrusted(tmp_path: Path) -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama_cpp is not importable (install the 'local' extra)")
    from nullband.demo.llama import LlamaServer, file_digest, find_gguf

    gguf = find_gguf()
    with (tmp_path / "items.jsonl").open("w") as f:
        for i, (q, good, bad) in enumerate(QUESTIONS):
            cand_good = i % 2 == 0
            item = {
                "id": f"q{i}",
                "prompt": q,
                "candidate": good if cand_good else bad,
                "reference": bad if cand_good else good,
                "human": "candidate" if cand_good else "reference",
            }
            f.write(json.dumps(item) + "\n")
    with LlamaServer(gguf, "smollm2-135m-" + file_digest(gguf)) as srv:
        config = {
            "mode": "pairwise",
            "items": "items.jsonl",
            "samples": 2,
            "temperature": 0.8,
            "concurrency": 2,
            "template": SHORT_TEMPLATE,
            "system": "",
            "judges": [
                {
                    "name": "smollm2",
                    "base_url": srv.base_url,
                    "model": srv.model_alias,
                    "params": {"max_tokens": 12},
                    "timeout_s": 120,
                }
            ],
            "bootstrap": {"resamples": 500, "seed": 3},
        }
        (tmp_path / "audit.yaml").write_text(yaml.safe_dump(config))
        proc = subprocess.run(
            [sys.executable, "-m", "nullband", "judge", "audit", "audit.yaml", "-o", "a.json"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    print(proc.stdout)  # the figures, for the CI log
    assert proc.returncode == 1, proc.stderr  # not trusted
    raw = json.loads((tmp_path / "a.json").read_text())
    audit = JudgeAudit.model_validate(raw)
    assert not audit.trusted
    assert audit.untrusted_reasons
    assert audit.usage[0].calls == len(QUESTIONS) * 2 * 2  # every ask made, none cached
    assert audit.usage[0].served_models == [audit.judges[0].model]
    # every figure is a number with an interval or an explicit reason: no NaN, no silent 0
    for est in _estimates(raw):
        if est["status"] == "ok":
            assert est["value"] is not None
            assert math.isfinite(est["value"])
        else:
            assert est["value"] is None
            assert est["reason"]
    pos = audit.judges[0].position
    assert pos is not None
    assert pos.pairs == len(QUESTIONS) * 2
    # the consistency reported is what the both-order verdicts show, whatever it is
    assert pos.consistency.value is not None
    assert pos.consistency.value < audit.floors.min_position_consistency  # type: ignore[operator]
    assert check_judges_for_gate(raw, metric="judge_pairwise").decision == "invalid"
    # and a real comparison gate on a metric from this judge is INVALID (exit 4)
    gate = load_gate(Path(__file__).resolve().parents[2] / "examples/judges/gate-judge.yaml")
    gate = gate.model_copy(update={"judge": gate.judge.model_copy(update={"judges": []})})
    rows = [ResultRow(case_id=f"c{i}", scores={"judge_pairwise": float(i % 2)}) for i in range(30)]
    cmp = run_comparison(rows, rows, gate=gate, judge_audit=raw, resamples=200)
    assert cmp.gate is not None
    assert cmp.gate.decision == "INVALID"
    assert cmp.gate.exit_code == 4
