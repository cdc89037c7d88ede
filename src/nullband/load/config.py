"""The load config (YAML): a target, the traffic shape, SLOs and validity thresholds.

A load run needs a :class:`~nullband.targets.config.TargetConfig`. It comes either from a
small load config (this module's :class:`LoadConfig`) or from an eval config's
``targets`` list (pick one with ``--target``). Both are read with
:func:`nullband.config.load_yaml_model`, so mistakes name the file, line and field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from nullband.config import EvalConfig, load_yaml_model
from nullband.errors import ConfigError
from nullband.targets.config import TargetConfig

PinMode = Literal["vllm", "max_tokens"]


class TenantSpec(BaseModel):
    """One tenant of a synthetic traffic mix."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="Tenant label used in breakdowns.")
    weight: float = Field(default=1.0, gt=0, description="Share of arrivals (relative).")
    prefix_tokens: int = Field(
        default=0, ge=0, description="Length of this tenant's shared prompt prefix, in tokens."
    )


class SyntheticTraffic(BaseModel):
    """Synthetic arrivals: a renewal process (Poisson or gamma) at a fixed rate."""

    model_config = ConfigDict(extra="forbid")

    arrival: Literal["poisson", "gamma", "constant"] = Field(
        default="poisson", description="Inter-arrival law; gamma with burstiness < 1 is burstier."
    )
    rate: float = Field(gt=0, description="Mean arrivals per second.")
    burstiness: float = Field(
        default=1.0, gt=0, description="Gamma shape k (1 = Poisson; < 1 burstier, > 1 smoother)."
    )
    duration_s: float | None = Field(
        default=None, gt=0, description="Length of the arrival window in seconds."
    )
    requests: int | None = Field(default=None, ge=1, description="Number of arrivals instead.")
    prompt_tokens: int | tuple[int, int] = Field(
        default=256, description="Prompt length: a fixed count or an inclusive [low, high] range."
    )
    output_tokens: int | tuple[int, int] = Field(
        default=64, description="Output length: a fixed count or an inclusive [low, high] range."
    )
    tenants: list[TenantSpec] = Field(
        default_factory=lambda: [TenantSpec(name="_")], description="Tenant mix."
    )

    @model_validator(mode="after")
    def _one_length(self) -> SyntheticTraffic:
        if (self.duration_s is None) == (self.requests is None):
            raise ValueError("give exactly one of duration_s or requests")
        return self


class SLO(BaseModel):
    """Service-level objectives; a request is good when it meets every one that is set."""

    model_config = ConfigDict(extra="forbid")

    ttft_ms: float | None = Field(default=None, gt=0, description="Time to first token, ms.")
    tpot_ms: float | None = Field(default=None, gt=0, description="Time per output token, ms.")
    e2e_ms: float | None = Field(default=None, gt=0, description="End-to-end latency, ms.")
    max_stall_ms: float | None = Field(
        default=None, gt=0, description="Largest gap between token events in a request, ms."
    )


class ValidityThresholds(BaseModel):
    """When the client is judged to have fallen behind (the run is then INVALID)."""

    model_config = ConfigDict(extra="forbid")

    dispatch_lag_p99_ms: float = Field(default=5.0, gt=0, description="p99 of send - planned.")
    late_ms: float = Field(default=1.0, gt=0, description="A request later than this is late.")
    late_fraction: float = Field(
        default=0.01, ge=0, le=1, description="Most requests allowed to be late."
    )
    arrival_rate_tolerance: float = Field(
        default=0.01, ge=0, le=1, description="Achieved vs offered arrival rate, relative."
    )
    loop_lag_p99_ms: float = Field(default=5.0, gt=0, description="p99 event-loop lag.")


class LoadConfig(BaseModel):
    """A load config: which endpoint, what traffic, how to judge it."""

    model_config = ConfigDict(extra="forbid")

    target: TargetConfig = Field(description="The endpoint under load.")
    trace: str | None = Field(
        default=None, description="Trace file (JSONL), relative to the config file."
    )
    synthetic: SyntheticTraffic | None = Field(default=None, description="Synthetic traffic.")
    metrics_url: str | None = Field(
        default=None, description="Prometheus /metrics URL of the server (vLLM names)."
    )
    scrape_interval_s: float = Field(default=1.0, gt=0, description="Scrape period during a run.")
    pin: PinMode = Field(
        default="vllm",
        description="'vllm': max_tokens + min_tokens + ignore_eos; 'max_tokens': max_tokens only.",
    )
    continuous_usage: bool = Field(
        default=True,
        description="Ask for usage in every chunk (stream_options.continuous_usage_stats).",
    )
    seed: int = Field(default=0, description="Seed for arrivals and prompt synthesis.")
    procs: int = Field(default=1, ge=1, description="Client processes (the schedule is sharded).")
    warmup_s: float = Field(
        default=0.0, ge=0, description="Requests planned in the first seconds are not measured."
    )
    request_timeout_s: float = Field(default=300.0, gt=0, description="Per-request timeout.")
    nice: int | None = Field(
        default=None,
        ge=-20,
        le=19,
        description="Scheduling niceness of the client processes during the run (negative "
        "raises priority; needs privileges, else a warning). With Linux autogroup scheduling "
        "it only counts against processes of the same session.",
    )
    max_inflight: int | None = Field(
        default=None, ge=1, description="Safety cap; reaching it makes the run INVALID."
    )
    slo: SLO = Field(default_factory=SLO, description="SLOs for goodput.")
    validity: ValidityThresholds = Field(
        default_factory=ValidityThresholds, description="Validity thresholds."
    )

    @model_validator(mode="after")
    def _not_both(self) -> LoadConfig:
        if self.trace is not None and self.synthetic is not None:
            raise ValueError("give either trace or synthetic, not both")
        return self


def read_load_config(path: str | Path, target: str | None = None) -> LoadConfig:
    """Read a load config, or build one from an eval config's target.

    An eval config (a file with a ``targets`` list) gives the target named ``target``
    (or its only target); everything else takes defaults and command-line options.

    Raises:
        ConfigError: the file is invalid, or the target is ambiguous or unknown.
    """
    p = Path(path)
    try:
        head = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("file not found", path=p) from None
    except (OSError, yaml.YAMLError):
        head = None  # load_yaml_model reports it with a line number
    if isinstance(head, dict) and "targets" in head:
        ev = load_yaml_model(p, EvalConfig)
        names = [t.name for t in ev.targets]
        if target is None:
            if len(ev.targets) != 1:
                raise ConfigError(
                    f"the eval config has {len(names)} targets ({', '.join(names)})",
                    path=p,
                    hint="pick one with --target NAME",
                )
            chosen = ev.targets[0]
        else:
            found = [t for t in ev.targets if t.name == target]
            if not found:
                raise ConfigError(
                    f"no target named {target!r}; the config has: {', '.join(names)}", path=p
                )
            chosen = found[0]
        return LoadConfig(target=chosen, seed=ev.seed)
    cfg = load_yaml_model(p, LoadConfig)
    if cfg.trace is not None and not Path(cfg.trace).is_absolute():
        cfg = cfg.model_copy(update={"trace": str(p.parent / cfg.trace)})
    if target is not None and cfg.target.name != target:
        raise ConfigError(
            f"the load config's target is {cfg.target.name!r}, not {target!r}", path=p
        )
    return cfg
