"""`nullband testserver` as a child process: script file, flags, stats, clean stop."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from ts_helpers import chat_body, post_chat

from nullband.errors import UsageError
from nullband.testserver import SubprocessServer, load_script

SCRIPT = """\
served_model: acme-2026-05-01
rules:
  - case: "arith-*"
    content: "42"
  - match: "(?i)weather"
    tool_calls:
      - name: get_weather
        arguments: {city: Oslo}
default_content: "no idea"
"""


def test_subprocess_with_script_flags_and_stats_file(tmp_path: Path) -> None:
    script = tmp_path / "script.yaml"
    script.write_text(SCRIPT)
    stats_file = tmp_path / "stats.json"
    args = [
        "--script", str(script),
        "--switch-after", "2", "--switch-model", "acme-2026-06-01",
        "--stats-file", str(stats_file),
    ]  # fmt: skip

    async def calls(base_url: str) -> list[dict[str, object]]:
        out = []
        async with aiohttp.ClientSession() as s:
            for key, text in [("arith-1/a/0", "2*21"), ("w-1/a/0", "Weather?"), ("z/a/0", "?")]:
                _, body, _ = await post_chat(s, base_url, chat_body(text), key)
                out.append(body)
        return out

    with SubprocessServer(args) as srv:
        assert srv.base_url.startswith("http://127.0.0.1:")
        bodies = asyncio.run(calls(srv.base_url))
        snap = srv.stats()
    assert bodies[0]["choices"][0]["message"]["content"] == "42"  # type: ignore[index]
    call = bodies[1]["choices"][0]["message"]["tool_calls"][0]  # type: ignore[index]
    assert json.loads(call["function"]["arguments"]) == {"city": "Oslo"}
    assert bodies[2]["choices"][0]["message"]["content"] == "no idea"  # type: ignore[index]
    assert [b["model"] for b in bodies] == ["acme-2026-05-01", "acme-2026-05-01", "acme-2026-06-01"]
    assert snap["cases"]["arith-1/a/0"] == {"requests": 1, "successes": 1, "after_success": 0}
    # SIGTERM stopped it cleanly, and it wrote its counters on the way out.
    assert json.loads(stats_file.read_text())["total_successes"] == 3


def test_bad_script_names_file_line_and_field(tmp_path: Path) -> None:
    script = tmp_path / "bad.yaml"
    script.write_text("rules:\n  - case: x\n    contnet: typo\n")
    proc = subprocess.run(
        [sys.executable, "-m", "nullband", "testserver", "--script", str(script)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert f"{script}:3" in proc.stderr
    assert "contnet" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_fault_rates_over_one_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="did not start"):
        SubprocessServer(["--fault-429", "0.7", "--fault-500", "0.6"]).start()
    script = tmp_path / "s.json"
    script.write_text('{"faults": {"rate_429": 0.1, "seed": 5}}')
    assert load_script(script).faults.rate_429 == 0.1


def test_help_has_an_example() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "nullband", "testserver", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0
    assert "Example: nullband testserver" in proc.stdout
