"""Entry point of a load run's child processes: ``python -m nullband.load._childmain ROLE``.

Kept out of the package's imports so that ``-m`` runs it fresh. Roles:

* ``worker``: reads a ShardPlan, writes "ready", reads ``t0`` (CLOCK_MONOTONIC ns), runs
  the shard and writes its ShardResult.
* ``scrape URL INTERVAL``: scrapes until stdin says stop, then writes the snapshots.
"""

from __future__ import annotations

import sys
from typing import Any

from nullband.load._child import recv, send, wait_readable


def _worker() -> None:
    from nullband.load.engine import new_event_loop_runner, run_shard, set_nice

    inp, out = sys.stdin.buffer, sys.stdout.buffer
    plan = recv(inp)
    _, problem = set_nice(plan.nice)
    send(out, "ready")
    t0 = recv(inp)
    with new_event_loop_runner() as runner:
        res = runner.run(run_shard(plan, t0_ns=t0))
    if problem:
        res.errors.append(problem)
    send(out, res)


def _scrape(url: str, interval_s: float) -> None:
    from nullband.load.scrape import scrape

    inp, out = sys.stdin.buffer, sys.stdout.buffer
    snaps: list[Any] = []
    errors = 0
    send(out, "ready")
    while not wait_readable(inp, interval_s):
        snap = scrape(url)
        if isinstance(snap, str):
            errors += 1
        else:
            snaps.append(snap)
    send(out, (snaps, errors))


def main(argv: list[str]) -> None:
    """Dispatch on the role."""
    if argv[:1] == ["worker"]:
        _worker()
    elif argv[:1] == ["scrape"] and len(argv) == 3:
        _scrape(argv[1], float(argv[2]))
    else:
        sys.stderr.write("usage: python -m nullband.load._childmain worker | scrape URL INTERVAL\n")
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv[1:])
