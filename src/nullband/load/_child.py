"""Child processes of a load run: the pipe protocol and how to start them.

Started with ``subprocess`` (not ``multiprocessing``) so that a user's script never gets
re-imported in the child. Messages are length-prefixed pickles on stdin/stdout.

* ``worker``: reads a :class:`ShardPlan`, writes "ready", reads ``t0`` (CLOCK_MONOTONIC
  ns), runs the shard and writes its :class:`ShardResult`.
* ``scrape URL INTERVAL``: scrapes until stdin says stop, then writes the snapshots.
"""

from __future__ import annotations

import os
import pickle
import select
import struct
import subprocess
import sys
from pathlib import Path
from typing import IO, Any


def send(stream: IO[bytes], obj: Any) -> None:
    """Write one length-prefixed pickle and flush."""
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def recv(stream: IO[bytes]) -> Any:
    """Read one length-prefixed pickle.

    Raises:
        EOFError: the other side closed the pipe.
    """
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError("the other process closed the pipe")
    (n,) = struct.unpack("<Q", head)
    data = stream.read(n)
    if len(data) < n:
        raise EOFError("the other process closed the pipe mid-message")
    return pickle.loads(data)


def spawn(*args: str) -> subprocess.Popen[bytes]:
    """Start ``python -m nullband.load._childmain ARGS`` with this package on its path."""
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen(
        [sys.executable, "-m", "nullband.load._childmain", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
    )


def wait_readable(stream: IO[bytes], timeout_s: float) -> bool:
    """True when ``stream`` has data (or EOF) within ``timeout_s``."""
    r, _, _ = select.select([stream], [], [], timeout_s)
    return bool(r)
