"""End to end: a real run against a test server that repoints its alias mid-run; the
drift view and the export must show where the served model changed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson

from nullband.config.models import EvalConfig
from nullband.run.runner import run_eval
from nullband.store import open_store
from nullband.store.drift import drift_report
from nullband.store.export import iter_result_rows
from nullband.testserver import TestServer


def test_alias_switch_shows_in_drift_and_export(tmp_path: Path) -> None:
    suite = tmp_path / "suite.jsonl"
    suite.write_text(
        "\n".join(
            orjson.dumps({"id": f"q{i:03d}", "prompt": f"say {i}", "expected": f"say {i}"}).decode()
            for i in range(80)
        )
        + "\n"
    )
    switch = {"after": 30, "served_model": "acme-2026-06-01", "fingerprint": "fp_new"}
    with TestServer(
        {"served_model": "acme-2026-05-01", "fingerprint": "fp_old", "switch": switch}
    ) as srv:
        cfg = EvalConfig.model_validate(
            {
                "suite": "suite.jsonl",
                # Concurrency 1: the 31st request is the first served by the new model.
                "targets": [
                    {
                        "name": "cand",
                        "base_url": srv.base_url,
                        "model": "acme-2026-05-01",
                        "concurrency": 1,
                    }
                ],
                "store": str(tmp_path / "runs.db"),
            }
        )
        summary = asyncio.run(run_eval(cfg, config_path=tmp_path / "eval.yaml", progress=False))
    with open_store(tmp_path / "runs.db") as store:
        report = drift_report(store, summary.run_id)
        (d,) = report.within
        assert d.drifted
        assert [(s.served, s.fingerprint, s.n) for s in d.sightings] == [
            ("acme-2026-05-01", "fp_old", 30),
            ("acme-2026-06-01", "fp_new", 50),
        ]
        (change,) = d.changes
        assert (change.case_id, change.position) == ("q030", 30)
        assert d.mismatched == 50  # every record served by the new model is flagged
        served = {r.case_id: r.model.served for r in iter_result_rows(store, summary.run_id)}
        assert served["q029"] == "acme-2026-05-01"
        assert served["q030"] == "acme-2026-06-01"
