"""Helpers of the runner tests: eval files on disk, the CLI in a child process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]


def write_eval(
    folder: Path,
    base_url: str,
    n_cases: int,
    *,
    store: str,
    target: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    targets: list[dict[str, Any]] | None = None,
) -> Path:
    """Write ``suite.jsonl`` (cases c0..c{n-1} whose gold is their own prompt, which the
    test server echoes) and ``config.yaml`` into ``folder``; returns the config path."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "suite.jsonl").open("w") as fh:
        for i in range(n_cases):
            seg = "even" if i % 2 == 0 else "odd"
            fh.write(
                f'{{"id": "c{i:05d}", "prompt": "echo {i}", "expected": "echo {i}", '
                f'"segments": {{"parity": "{seg}"}}}}\n'
            )
    base_target = {
        "name": "cand",
        "base_url": base_url,
        "model": "m-2026-01-01",
        "concurrency": 32,
        "timeout_s": 5.0,
    }
    cfg: dict[str, Any] = {
        "suite": "suite.jsonl",
        "targets": targets or [{**base_target, **(target or {})}],
        "scorers": ["exact"],
        "retries": {"max_attempts": 8, "base_delay_s": 0.002, "max_delay_s": 0.02},
        "store": store,
        **(extra or {}),
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def nullband(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """Run the ``nullband`` CLI in a child process."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "nullband", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=REPO,
    )


def popen_nullband(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start the ``nullband`` CLI in a child process (not waited for)."""
    return subprocess.Popen(
        [sys.executable, "-m", "nullband", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=REPO,
    )


def result_rows(store: Any, run_id: str) -> dict[tuple[str, str, int], dict[str, Any]]:
    """Per key, what an export holds: scores, served model and error."""
    out = {}
    for r in store.iter_records(run_id):
        out[(r.case_id, r.target, r.epoch)] = {
            "status": r.status,
            "output": r.output_text,
            "scores": r.scores,
            "served": r.provenance.served,
            "error": r.error,
        }
    return out
