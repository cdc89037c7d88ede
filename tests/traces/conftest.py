"""Fixtures of the traces tests: a planted-problem corpus on disk."""

from __future__ import annotations

import os

import orjson
import pytest
from traces_helpers import CorpusFiles, write_jsonl

from nullband.traces import native
from nullband.traces.synth import RESULT_SCHEMAS, TOOLS, synth_corpus


@pytest.fixture
def native_built() -> None:
    """The C scanner is built: required under NULLBAND_REQUIRE_NATIVE=1 (CI), else the
    test is skipped when it is not."""
    if os.environ.get("NULLBAND_REQUIRE_NATIVE") == "1":
        assert native.native_available()
    elif native._scan is None:
        pytest.skip("nullband.traces._scan is not built (set NULLBAND_REQUIRE_NATIVE=1 to fail)")


@pytest.fixture(scope="session")
def planted(tmp_path_factory: pytest.TempPathFactory) -> CorpusFiles:
    """1,500 traces (4,500 spans), a third with one planted problem, seed 20260525."""
    d = tmp_path_factory.mktemp("planted")
    corpus = synth_corpus(1500, seed=20260525, problem_rate=0.35)
    steps = write_jsonl(d / "steps.jsonl", corpus.spans)
    tools = d / "tools.json"
    tools.write_bytes(orjson.dumps(TOOLS))
    results = d / "results.json"
    results.write_bytes(orjson.dumps(RESULT_SCHEMAS))
    truth = write_jsonl(
        d / "truth.jsonl", [{"step_id": k, "result": v} for k, v in corpus.ground_truth.items()]
    )
    return CorpusFiles(corpus, steps, tools, results, truth)
