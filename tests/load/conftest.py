"""Fixtures of the load tests: test servers in child processes (their own CPU and GIL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from loadtest_helpers import PER_TOKEN_MS, TTFT_MS

from nullband.testserver import SubprocessServer


@pytest.fixture(scope="module")
def paced_server() -> Iterator[SubprocessServer]:
    """A server with a fixed TTFT of 50 ms and 10 ms between tokens."""
    with SubprocessServer(["--ttft-ms", str(TTFT_MS), "--per-token-ms", str(PER_TOKEN_MS)]) as srv:
        yield srv


@pytest.fixture(scope="module")
def fast_server() -> Iterator[SubprocessServer]:
    """A zero-latency streaming server."""
    with SubprocessServer([]) as srv:
        yield srv
