"""Length-prefixed pickle frames between a :class:`~nullband.store.process.ProcessStore`
and its child process (over the child's stdin and a duplicate of its stdout).

Both ends are nullband processes started from the same interpreter and package, so
pickle is safe here: nothing else writes to these pipes.
"""

from __future__ import annotations

import pickle
from typing import IO, Any

_HEADER = 8


def send(fh: IO[bytes], obj: Any) -> None:
    """Write one frame and flush it."""
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    fh.write(len(data).to_bytes(_HEADER, "big"))
    fh.write(data)
    fh.flush()


def recv(fh: IO[bytes]) -> Any:
    """Read one frame; EOFError when the other end closed the pipe."""
    head = _read_exactly(fh, _HEADER)
    return pickle.loads(_read_exactly(fh, int.from_bytes(head, "big")))


def _read_exactly(fh: IO[bytes], n: int) -> bytes:
    data = fh.read(n)
    if data is None or len(data) < n:
        raise EOFError("the other end of the store pipe closed")
    return data
