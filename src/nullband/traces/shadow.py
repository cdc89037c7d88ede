"""Shadow analysis: join a primary and a shadow log by trace id and compare them.

Each side's answer (the last model call of the trace) is read as a JSON object of
fields. Against gold labels (``{"trace_id", "fields": {...}}`` per line):

- field accuracy: share of gold fields whose value matches (strings compared trimmed and
  case-folded; numbers by value; null matches only null);
- hallucinated-field rate: share of requests where some field that is null in the gold
  came back non-null (the field notes' vendor_tax_id problem).

Also latency p50 and p99 and cost per 1,000 requests. Every metric has a paired,
seeded bootstrap interval for ``shadow - primary`` that resamples requests (traces), via
:func:`nullband.stats.bootstrap_ci`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import orjson
from pydantic import BaseModel, Field

from nullband.errors import InputError
from nullband.stats import Interval, bootstrap_ci
from nullband.traces.ingest import iter_steps
from nullband.traces.ingest._io import iter_json_lines
from nullband.traces.schema import Step

SHADOW_SCHEMA_VERSION = 1


class SideAnswer(BaseModel):
    """What one side answered for one request."""

    fields: dict[str, Any] | None = Field(description="Parsed fields; null when unparseable.")
    latency_ms: float | None = Field(description="Summed duration of the trace's model calls.")
    cost_usd: float | None = Field(description="Summed cost, when logged.")


class ShadowMetric(BaseModel):
    """One metric on both sides with the paired interval of the difference."""

    name: str = Field(description="Metric name.")
    primary: float | None = Field(description="Value on the primary side.")
    shadow: float | None = Field(description="Value on the shadow side.")
    delta: float | None = Field(description="shadow - primary.")
    interval: Interval | None = Field(description="Paired bootstrap interval of the delta.")
    n: int = Field(description="Paired requests used.")
    state: Literal["ok", "not_enough_data"] = Field(description="'not_enough_data' if n < 2.")


class ShadowReport(BaseModel):
    """The comparison of a primary and a shadow log."""

    schema_version: int = Field(default=SHADOW_SCHEMA_VERSION, description="Schema version.")
    n_primary: int = Field(description="Requests in the primary log.")
    n_shadow: int = Field(description="Requests in the shadow log.")
    n_joined: int = Field(description="Requests present in both.")
    n_gold: int = Field(description="Joined requests with gold labels.")
    unparseable: dict[str, int] = Field(
        description="Answers that were not a JSON object, per side."
    )
    metrics: list[ShadowMetric] = Field(description="The metrics.")
    seed: int = Field(description="Bootstrap seed.")
    resamples: int = Field(description="Bootstrap resamples.")


def _answer_fields(step: Step) -> dict[str, Any] | None:
    msg = step.output_message or {}
    content = msg.get("content")
    if isinstance(content, dict):
        return content
    if not isinstance(content, str):
        return None
    text = content.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def read_side(path: str | Path, fmt: str = "auto") -> dict[str, SideAnswer]:
    """Per trace id, the answer of the trace's last model call plus latency and cost."""
    steps: dict[str, list[Step]] = {}
    for s in iter_steps(path, fmt):
        if s.kind == "llm":
            steps.setdefault(s.trace_id, []).append(s)
    out = {}
    for tid, group in steps.items():
        durs = [s.duration_ms for s in group if s.duration_ms is not None]
        costs = [s.cost_usd for s in group if s.cost_usd is not None]
        out[tid] = SideAnswer(
            fields=_answer_fields(group[-1]),
            latency_ms=float(sum(durs)) if durs else None,
            cost_usd=float(sum(costs)) if costs else None,
        )
    return out


def read_gold(path: str | Path) -> dict[str, dict[str, Any]]:
    """Gold labels: one ``{"trace_id", "fields": {...}}`` object per line."""
    p = Path(path)
    gold = {}
    for line, row in iter_json_lines(p):
        if "trace_id" not in row or not isinstance(row.get("fields"), dict):
            raise InputError("expected {'trace_id': ..., 'fields': {...}}", path=p, line=line)
        gold[str(row["trace_id"])] = row["fields"]
    return gold


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, str) and isinstance(b, str):
        return a.strip().casefold() == b.strip().casefold()
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return float(a) == float(b)
    return bool(a == b)


def field_scores(answer: dict[str, Any] | None, gold: dict[str, Any]) -> tuple[float, float]:
    """(accuracy over gold fields, 1.0 if a gold-null field came back non-null else 0.0)."""
    if not gold:
        return 1.0, 0.0
    if answer is None:
        return 0.0, 0.0
    right = sum(_same(answer.get(k), v) for k, v in gold.items())
    halluc = any(v is None and answer.get(k) is not None for k, v in gold.items())
    return right / len(gold), 1.0 if halluc else 0.0


def _mean(v: np.ndarray) -> float:
    return float(np.mean(v))


def _quantile(q: int) -> Callable[[np.ndarray], float]:
    return lambda v: float(np.percentile(v, q))


def _metric(
    name: str,
    a: np.ndarray,
    b: np.ndarray,
    stat: Callable[[np.ndarray], float],
    *,
    seed: int,
    resamples: int,
    confidence: float,
) -> ShadowMetric:
    n = len(a)
    if n < 2:
        return ShadowMetric(
            name=name,
            primary=stat(a) if n else None,
            shadow=stat(b) if n else None,
            delta=None,
            interval=None,
            n=n,
            state="not_enough_data",
        )
    res = bootstrap_ci(
        lambda x, y: stat(y) - stat(x),
        [a, b],
        confidence=confidence,
        resamples=resamples,
        seed=seed,
    )
    return ShadowMetric(
        name=name,
        primary=stat(a),
        shadow=stat(b),
        delta=stat(b) - stat(a),
        interval=res.interval,
        n=n,
        state="ok",
    )


def shadow_report(
    primary: dict[str, SideAnswer],
    shadow: dict[str, SideAnswer],
    gold: dict[str, dict[str, Any]] | None = None,
    *,
    seed: int = 0,
    resamples: int = 2000,
    confidence: float = 0.95,
) -> ShadowReport:
    """Compare the two sides on the requests they share."""
    ids = sorted(set(primary) & set(shadow))
    kw: dict[str, Any] = {"seed": seed, "resamples": resamples, "confidence": confidence}
    metrics: list[ShadowMetric] = []
    g = gold or {}
    gids = [i for i in ids if i in g]
    if gids:
        pa = [field_scores(primary[i].fields, g[i]) for i in gids]
        sa = [field_scores(shadow[i].fields, g[i]) for i in gids]
        metrics.append(
            _metric(
                "field_accuracy",
                np.array([x[0] for x in pa]),
                np.array([x[0] for x in sa]),
                _mean,
                **kw,
            )
        )
        metrics.append(
            _metric(
                "hallucinated_field_rate",
                np.array([x[1] for x in pa]),
                np.array([x[1] for x in sa]),
                _mean,
                **kw,
            )
        )
    lat = [i for i in ids if primary[i].latency_ms is not None and shadow[i].latency_ms is not None]
    la = np.array([primary[i].latency_ms for i in lat], dtype=float)
    lb = np.array([shadow[i].latency_ms for i in lat], dtype=float)
    for q in (50, 99):
        metrics.append(_metric(f"latency_p{q}_ms", la, lb, _quantile(q), **kw))
    cost = [i for i in ids if primary[i].cost_usd is not None and shadow[i].cost_usd is not None]
    ca = np.array([primary[i].cost_usd for i in cost], dtype=float)
    cb = np.array([shadow[i].cost_usd for i in cost], dtype=float)
    metrics.append(_metric("cost_per_1k_usd", ca, cb, lambda v: float(np.mean(v) * 1000), **kw))
    return ShadowReport(
        n_primary=len(primary),
        n_shadow=len(shadow),
        n_joined=len(ids),
        n_gold=len(gids),
        unparseable={
            "primary": sum(1 for i in ids if primary[i].fields is None),
            "shadow": sum(1 for i in ids if shadow[i].fields is None),
        },
        metrics=metrics,
        seed=seed,
        resamples=resamples,
    )


def shadow_files(
    primary: str | Path,
    shadow: str | Path,
    gold: str | Path | None = None,
    *,
    fmt: str = "auto",
    **kw: Any,
) -> ShadowReport:
    """:func:`shadow_report` on two log files (any trace format) and an optional gold file."""
    return shadow_report(
        read_side(primary, fmt), read_side(shadow, fmt), read_gold(gold) if gold else None, **kw
    )
