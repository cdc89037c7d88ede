"""The store process: owns one :class:`~nullband.store.sql.SqlStore` and serves requests.

Run as ``python -m nullband.store._child`` by :class:`~nullband.store.process.ProcessStore`.
Requests arrive as frames on stdin; replies go out on the process's original stdout
(stdout itself is pointed at stderr, so a stray print cannot corrupt a frame). Every
request gets one reply: ``("ok", value)`` or ``("err", class name, message)``.

The process ignores SIGINT (Ctrl-C reaches the parent, which finishes or abandons its
calls and then closes this process), and exits when its stdin closes, e.g. when the
parent was killed: a batch that was not committed by then was never acknowledged, so
the parent never counted it as done.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
from collections.abc import Iterator
from typing import IO, Any

from nullband.store import _frames


def _serve(inp: IO[bytes], out: IO[bytes]) -> None:
    store: Any = None
    while True:
        try:
            msg = _frames.recv(inp)
        except EOFError:
            break
        op = msg[0]
        try:
            if op == "open":
                from nullband.store._open import open_store

                store = open_store(msg[1], sqlite_synchronous=msg[2])
                value: Any = (store.url, store.dialect)
            elif op == "payloads":
                from nullband.store._rows import payload_rows

                rows = payload_rows(msg[1], store.dialect)
                store.write_record_rows(rows, msg[2], judge_spend=msg[3])
                value = None
            elif op == "call":
                value = getattr(store, msg[1])(*msg[2], **msg[3])
                if isinstance(value, Iterator):
                    value = list(value)
            elif op == "function":
                module, _, name = msg[1].partition(":")
                if not module.startswith("nullband."):
                    raise ValueError(f"refusing to run {msg[1]!r} in the store process")
                value = getattr(importlib.import_module(module), name)(store, *msg[2])
            elif op == "close":
                if store is not None:
                    store.close()
                    store = None
                _frames.send(out, ("ok", None))
                break
            else:
                raise ValueError(f"unknown store request {op!r}")
        except Exception as exc:
            _frames.send(out, ("err", type(exc).__name__, str(exc)))
            continue
        _frames.send(out, ("ok", value))
    if store is not None:
        store.close()


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    _serve(sys.stdin.buffer, out)


if __name__ == "__main__":
    main()
