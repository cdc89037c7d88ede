"""Shared test fixtures: free loopback ports, the shared/ data folder, PostgreSQL."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def shared_data() -> Path:
    """../shared/data (BFCL and tau-bench files)."""
    path = SHARED / "data"
    if not path.is_dir():
        pytest.fail(f"shared data folder missing: {path}")
    return path


@pytest.fixture
def pg_url() -> str:
    """URL of a real PostgreSQL server; CI starts one (see .ci/run)."""
    url = os.environ.get("NULLBAND_TEST_PG_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("NULLBAND_TEST_PG_URL is not set in CI; .ci/run must start PostgreSQL")
        pytest.skip("set NULLBAND_TEST_PG_URL to run PostgreSQL tests (bash .ci/run does)")
    return url
