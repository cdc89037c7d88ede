"""Fixtures for the judge tests: the scripted judge served by the real test server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from judges_scripted import ScriptedJudge

from nullband.testserver import TestServer


@pytest.fixture
def judge_server() -> Iterator[tuple[TestServer, ScriptedJudge]]:
    """A test server (in a thread) whose replies come from a mutable ScriptedJudge."""
    judge = ScriptedJudge()
    srv = TestServer(responder=lambda req: judge(req)).start_in_thread()
    try:
        yield srv, judge
    finally:
        srv.stop()
