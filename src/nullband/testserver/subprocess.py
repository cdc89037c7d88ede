"""Run ``nullband testserver`` as a child process (its own CPU, killable, restartable)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from nullband.errors import UsageError

READY_PREFIX = "nullband testserver listening on "


class SubprocessServer:
    """``python -m nullband testserver ARGS...`` in a child process.

    Args:
        args: command-line options of ``nullband testserver`` (``--port`` defaults to 0).
        python: the interpreter to run.
        env: extra environment variables for the child.

    Example:
        >>> with SubprocessServer(["--fault-429", "0.05", "--seed", "3"]) as srv:  # doctest: +SKIP
        ...     print(srv.base_url, srv.stats()["total_requests"])
    """

    def __init__(
        self,
        args: list[str] | None = None,
        *,
        python: str = sys.executable,
        env: dict[str, str] | None = None,
    ) -> None:
        self.args = list(args or [])
        if "--port" not in self.args:
            self.args += ["--port", "0"]
        self.python = python
        self.env = env
        self.proc: subprocess.Popen[str] | None = None
        self.base_url = ""
        self._errfile: Any = None

    def start(self, timeout_s: float = 30.0) -> SubprocessServer:
        """Start the child and wait until it listens.

        Raises:
            UsageError: the child exited or did not report its address in time.
        """
        env = dict(os.environ)
        src = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
        env.update(self.env or {})
        # stderr goes to a file, not a pipe nobody drains (a full pipe would block the child).
        self._errfile = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed in __exit__)
        self.proc = subprocess.Popen(
            [self.python, "-m", "nullband", "testserver", *self.args],
            stdout=subprocess.PIPE,
            stderr=self._errfile,
            text=True,
            env=env,
        )
        line: list[str] = []
        assert self.proc.stdout is not None
        stdout = self.proc.stdout

        def read_line() -> None:
            line.append(stdout.readline())

        reader = threading.Thread(target=read_line, daemon=True)
        reader.start()
        reader.join(timeout_s)
        first = line[0] if line else ""
        if not first.startswith(READY_PREFIX):
            self.kill()
            self._errfile.seek(0)
            err = self._errfile.read()
            raise UsageError(
                f"nullband testserver did not start (args {self.args}): {err.strip() or first!r}"
            )
        self.base_url = first[len(READY_PREFIX) :].strip()
        return self

    @property
    def url(self) -> str:
        """Root URL (the base URL without ``/v1``)."""
        return self.base_url.removesuffix("/v1")

    def stats(self) -> dict[str, Any]:
        """The child's counters (``GET /_nullband/stats``)."""
        with urllib.request.urlopen(f"{self.url}/_nullband/stats", timeout=10) as resp:
            data: dict[str, Any] = json.loads(resp.read())
        return data

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the child with SIGTERM (SIGKILL if it does not exit in time)."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """Kill the child at once."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> SubprocessServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        if self._errfile is not None:
            self._errfile.close()
