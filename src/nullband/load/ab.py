"""A/B load runs: the same schedule against two serving configs, interleaved A B A B."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from nullband.errors import UsageError
from nullband.load.compare import GateRule, LoadComparison, compare_arms
from nullband.load.config import LoadConfig
from nullband.load.files import write_run
from nullband.load.records import RequestRecord
from nullband.load.runner import run_load
from nullband.load.summary import LoadSummary
from nullband.load.trace import Schedule, schedule_from_trace, synthetic_schedule


def build_schedule(cfg: LoadConfig, time_scale: float = 1.0) -> Schedule:
    """The schedule a load config describes.

    Raises:
        UsageError: the config names no traffic.
    """
    if cfg.trace is not None:
        return schedule_from_trace(cfg.trace, seed=cfg.seed, time_scale=time_scale)
    if cfg.synthetic is not None:
        return synthetic_schedule(cfg.synthetic, seed=cfg.seed)
    raise UsageError(
        "no traffic given: set 'trace' or 'synthetic' in the load config, "
        "or pass --trace FILE or --rate R with --duration S or --requests N"
    )


Run = tuple[LoadSummary, list[RequestRecord]]


def run_ab(
    baseline: LoadConfig,
    candidate: LoadConfig,
    schedule: Schedule,
    *,
    repeats: int = 2,
    out_dir: str | Path | None = None,
    rules: Sequence[GateRule] | None = None,
    seed: int = 0,
    resamples: int = 2000,
    between: Callable[[str, int], None] | None = None,
    on_run: Callable[[str, int, LoadSummary], None] | None = None,
) -> tuple[LoadComparison, list[Run], list[Run]]:
    """Replay ``schedule`` against both configs, A B A B ..., then compare and gate.

    ``between(arm, i)`` runs before each run (e.g. restart or flush the server);
    ``on_run`` sees each finished run. Run directories go under ``out_dir`` as
    ``baseline-1``, ``candidate-1``, ...
    """
    if repeats < 1:
        raise UsageError(f"--repeats must be at least 1, got {repeats}")
    arms: dict[str, list[Run]] = {"baseline": [], "candidate": []}
    for i in range(1, repeats + 1):
        for arm, cfg in (("baseline", baseline), ("candidate", candidate)):
            if between is not None:
                between(arm, i)
            res = run_load(cfg, schedule, label=arm)
            if out_dir is not None:
                write_run(Path(out_dir) / f"{arm}-{i}", res.summary, res.records, res.scrapes)
            if on_run is not None:
                on_run(arm, i, res.summary)
            arms[arm].append((res.summary, res.records))
    comp = compare_arms(
        arms["baseline"], arms["candidate"], rules=rules, seed=seed, resamples=resamples
    )
    return comp, arms["baseline"], arms["candidate"]
