"""Shadow analysis: join by trace id, field accuracy, hallucinated fields, latency, cost."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson
import pytest
from scipy import stats as sps
from traces_helpers import write_jsonl

from nullband.traces.shadow import field_scores, shadow_files

FIELDS = ["vendor", "total", "currency", "vendor_tax_id"]


def _answer(
    g: dict[str, object], i: int, p_wrong: float, p_halluc: float, rng: np.random.Generator
) -> dict[str, object]:
    out = dict(g)
    if rng.random() < p_wrong:
        out["total"] = float(i) + 1
    if g["vendor_tax_id"] is None and rng.random() < p_halluc:
        out["vendor_tax_id"] = "FAKE"
    return out


def _logs(
    tmp_path: Path, n: int = 400, seed: int = 8
) -> tuple[Path, Path, Path, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    prim, shad, gold = [], [], []
    truth: dict[str, list[float]] = {
        "pa": [],
        "sa": [],
        "ph": [],
        "sh": [],
        "pl": [],
        "sl": [],
        "pc": [],
        "sc": [],
    }
    for i in range(n):
        tid = f"inv-{i}"
        g = {
            "vendor": f"V{i}",
            "total": float(i),
            "currency": "EUR",
            "vendor_tax_id": None if i % 4 else f"T{i}",
        }
        gold.append({"trace_id": tid, "fields": g})

        pa, sa = _answer(g, i, 0.10, 0.01, rng), _answer(g, i, 0.04, 0.08, rng)
        pl, sl = float(rng.lognormal(np.log(480), 0.4)), float(rng.lognormal(np.log(190), 0.3))
        pc, sc = 0.00042, 0.00012
        for rows, a, lat, cost in ((prim, pa, pl, pc), (shad, sa, sl, sc)):
            rows.append(
                {
                    "trace_id": tid,
                    "step_id": f"{tid}-{len(rows)}",
                    "kind": "llm",
                    "duration_ms": lat,
                    "cost_usd": cost,
                    "output_message": {"role": "assistant", "content": orjson.dumps(a).decode()},
                }
            )
        truth["pa"].append(field_scores(pa, g)[0])
        truth["sa"].append(field_scores(sa, g)[0])
        truth["ph"].append(field_scores(pa, g)[1])
        truth["sh"].append(field_scores(sa, g)[1])
        truth["pl"].append(pl)
        truth["sl"].append(sl)
    # one request only the primary saw, one unparseable shadow answer
    prim.append(
        {
            "trace_id": "extra",
            "step_id": "x",
            "kind": "llm",
            "output_message": {"role": "assistant", "content": "{}"},
        }
    )
    shad[0]["output_message"] = {"role": "assistant", "content": "sorry, cannot parse"}
    truth["sa"][0] = 0.0
    truth["sh"][0] = 0.0
    arrays = {k: np.array(v) for k, v in truth.items()}
    return (
        write_jsonl(tmp_path / "p.jsonl", prim),
        write_jsonl(tmp_path / "s.jsonl", shad),
        write_jsonl(tmp_path / "g.jsonl", gold),
        arrays,
    )


def test_field_scores() -> None:
    gold = {"a": "X", "b": None, "c": 2}
    assert field_scores({"a": " x ", "b": None, "c": 2.0}, gold) == (1.0, 0.0)
    assert field_scores({"a": "x", "b": "made up", "c": 3}, gold) == (pytest.approx(1 / 3), 1.0)
    assert field_scores(None, gold) == (0.0, 0.0)


def test_shadow_metrics_match_direct_computation_and_scipy(tmp_path: Path) -> None:
    p, s, g, t = _logs(tmp_path)
    rep = shadow_files(p, s, g, seed=5, resamples=4000)
    assert (rep.n_primary, rep.n_shadow, rep.n_joined, rep.n_gold) == (401, 400, 400, 400)
    assert rep.unparseable == {"primary": 0, "shadow": 1}
    m = {x.name: x for x in rep.metrics}
    assert m["field_accuracy"].primary == pytest.approx(t["pa"].mean())
    assert m["field_accuracy"].shadow == pytest.approx(t["sa"].mean())
    assert m["hallucinated_field_rate"].shadow == pytest.approx(t["sh"].mean())
    assert m["latency_p50_ms"].primary == pytest.approx(np.percentile(t["pl"], 50))
    assert m["latency_p99_ms"].shadow == pytest.approx(np.percentile(t["sl"], 99))
    assert m["cost_per_1k_usd"].primary == pytest.approx(0.42)
    assert m["cost_per_1k_usd"].shadow == pytest.approx(0.12)
    # paired interval of the accuracy delta against scipy's paired percentile bootstrap;
    # different random streams, so the limits agree to Monte Carlo error (~0.004 here)
    oracle = sps.bootstrap(
        (t["pa"], t["sa"]),
        lambda a, b, axis=-1: b.mean(axis=axis) - a.mean(axis=axis),
        paired=True,
        vectorized=True,
        n_resamples=4000,
        method="percentile",
        random_state=np.random.default_rng(1),
    )
    iv = m["field_accuracy"].interval
    assert iv is not None
    assert iv.available
    assert iv.lo == pytest.approx(oracle.confidence_interval.low, abs=0.006)
    assert iv.hi == pytest.approx(oracle.confidence_interval.high, abs=0.006)
    assert iv.seed == 5
    assert iv.lo < m["field_accuracy"].delta < iv.hi
    # the hallucination increase and the latency drop are clear at n=400
    hl = m["hallucinated_field_rate"].interval
    assert hl is not None
    assert hl.lo > 0
    lat = m["latency_p50_ms"].interval
    assert lat is not None
    assert lat.hi < 0


def test_cli_shadow_json_and_not_enough_data(tmp_path: Path) -> None:
    p, s, g, _ = _logs(tmp_path, n=1)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "nullband",
            "traces",
            "shadow",
            str(p),
            str(s),
            "--gold",
            str(g),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    rep = orjson.loads(proc.stdout)
    assert all(m["state"] == "not_enough_data" and m["interval"] is None for m in rep["metrics"])
