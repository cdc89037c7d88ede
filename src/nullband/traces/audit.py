"""The trace audit: per-step rules, per-class timing medians, a verdict per trace.

The audit is a per-step function (:func:`step_facts`) plus per-class medians plus a
per-trace function (:func:`finalize`). Nothing else is shared between traces, so it maps
onto a distributed engine (map the step function, reduce medians per class, join back).
Both engines here (this in-process one and :mod:`nullband.traces.fastaudit`) call the
same functions, so their verdicts are identical.
"""

from __future__ import annotations

import functools
import statistics
from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple

import orjson

from nullband.traces.audit_models import (
    AuditConfig,
    AuditReport,
    AuditRow,
    AuditSummary,
    ClassTiming,
    Verdict,
)
from nullband.traces.schema import Trace
from nullband.traces.validate import SchemaCheck, parse_json_arg

_MISS = object()
_RANK: dict[Verdict, int] = {"clean": 0, "noisy": 1, "corrupted": 2}


TRACE_FAILED = "the trace's last step failed"
"""The reason of a trace_failed flag."""


class StepFacts(NamedTuple):
    """What the audit keeps of one step: timing, order and the flags found on it."""

    trace_id: str
    step_id: str
    ts: float
    idx: int
    task_class: str | None
    kind: str
    label: str
    duration: float | None
    eligible: bool
    error: bool
    flags: list[tuple[str, str]]


class AuditContext:
    """Compiled schemas and caches for one audit (one per process)."""

    def __init__(self, config: AuditConfig) -> None:
        self.config = config
        self.ignore = set(config.ignore)
        self.tool = {n: SchemaCheck(s) for n, s in config.tool_schemas.items()}
        self.result = {n: SchemaCheck(s) for n, s in config.result_schemas.items()}
        self.pinned = {_norm(k): _norm(v) for k, v in config.pinned.items()}
        self._defs: dict[bytes, SchemaCheck | str] = {}
        self.memo: dict[tuple[int, str], str | None] = {}

    def schema_for_definition(self, params: Any) -> SchemaCheck | str:
        """The check of a tool definition found in a trace (compiled once per schema), or
        why its parameters are not a usable JSON Schema."""
        key = orjson.dumps(params, option=orjson.OPT_SORT_KEYS)
        check = self._defs.get(key)
        if check is None:
            try:
                check = SchemaCheck(params)
            except ValueError as exc:
                check = str(exc)
            self._defs[key] = check
        return check


@functools.lru_cache(maxsize=4096)
def _norm(model: str) -> str:
    """Model names compared without provider prefix and case; date snapshots still differ."""
    return model.strip().lower().rsplit("/", 1)[-1]


def _ts(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            return float("inf")
    return float("inf")


def _definitions(d: dict[str, Any]) -> dict[Any, Any]:
    fns = (t.get("function") for t in d.get("tool_definitions") or [] if isinstance(t, dict))
    # a function that is not an object (null, missing, another type) has no name
    return {
        f.get("name"): f.get("parameters")
        for f in (fn if isinstance(fn, dict) else {} for fn in fns)
    }


def _args_error(check: SchemaCheck, raw: Any, ctx: AuditContext) -> str | None:
    """Validation of raw arguments, memoised on the raw text (identical calls repeat)."""
    if isinstance(raw, str):
        key = (id(check), raw)
        hit = ctx.memo.get(key, _MISS)
        if hit is not _MISS:
            return hit  # type: ignore[return-value]
    value, perr = parse_json_arg(raw)
    err = perr or check.error(value)
    if isinstance(raw, str):
        if len(ctx.memo) > 200_000:
            ctx.memo.clear()
        ctx.memo[key] = err
    return err


def _check_calls(d: dict[str, Any], ctx: AuditContext, out: list[tuple[str, str]]) -> None:
    msg = d.get("output_message")
    calls = msg.get("tool_calls") if isinstance(msg, dict) else None
    if not calls:
        return
    defs: dict[Any, Any] | None = None
    for call in calls:
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict):
            fn = {}  # no function object (null, missing, or a value of another type)
        name = str(fn.get("name"))
        check = ctx.tool.get(name)
        if check is None:
            if defs is None:
                defs = _definitions(d)
            if defs.get(name) is not None:
                found = ctx.schema_for_definition(defs[name])
                if isinstance(found, str):  # the trace's own definition is unusable
                    out.append(("tool_args_invalid", f"{name}: the trace's definition is {found}"))
                    continue
                check = found
            elif defs and name not in defs:
                out.append(("tool_args_invalid", f"call to {name!r}, a tool not offered"))
        if check is None:
            continue
        err = _args_error(check, fn.get("arguments", "{}"), ctx)
        if err:
            out.append(("tool_args_invalid", f"{name}: {err}"))


def _check_tool_step(d: dict[str, Any], ctx: AuditContext, out: list[tuple[str, str]]) -> None:
    name = d.get("tool_name")
    check = ctx.tool.get(str(name)) if name else None
    if check is not None and d.get("tool_arguments") is not None:
        err = _args_error(check, d["tool_arguments"], ctx)
        if err:
            out.append(("tool_args_invalid", f"{name}: {err}"))
    result = d.get("tool_result")
    if isinstance(result, str):
        result, _ = parse_json_arg(result) if result[:1] in "[{" else (result, None)
    rcheck = ctx.result.get(name) if name else None
    if rcheck is not None:
        err = rcheck.error(result)
        if err:
            out.append(("tool_result_invalid", f"{name} result: {err}"))
    gt = ctx.config.ground_truth
    if gt:
        key = d.get("step_id") if d.get("step_id") in gt else d.get("tool_call_id")
        if key in gt and result != gt[key]:
            want = orjson.dumps(gt[key]).decode()[:120]
            got = orjson.dumps(result).decode()[:120]
            out.append(("tool_result_mismatch", f"{name} returned {got}, recorded truth {want}"))


def step_facts(d: dict[str, Any], idx: int, ctx: AuditContext) -> StepFacts:
    """Audit one step given as a generic-JSONL dict (the per-step half of the audit)."""
    get = d.get
    flags: list[tuple[str, str]] = []
    fi = get("fallback_index") or 0
    pserv = get("provider_served")
    if fi:
        served = get("model_served") or get("model_routed") or "?"
        flags.append(("fallback", f"fallback #{fi} served ({pserv or '?'}/{served})"))
    else:
        preq = get("provider_requested")
        if preq and pserv and preq != pserv:
            flags.append(("fallback", f"requested provider {preq}, served by {pserv}"))
    retries = get("retry_count")
    if retries:
        flags.append(("retry", f"{retries} retries before the answer"))
    req = get("model_requested")
    got = get("model_served") or get("model_routed")
    if req and got:
        nreq = _norm(req)
        if _norm(got) != ctx.pinned.get(nreq, nreq):
            flags.append(("model_mismatch", f"requested {req}, served {got}"))
    cache_hit = bool(get("cache_hit"))
    if cache_hit:
        flags.append(("cache_hit", f"served from the {get('cache_kind') or 'gateway'} cache"))
    error = get("status") == "error"
    if error:
        why = f"{get('error_type') or 'error'}: {get('error_message') or ''}".strip()
        flags.append(("step_error", why))
    kind = get("kind") or "llm"
    if kind == "tool":
        _check_tool_step(d, ctx, flags)
        label = get("tool_name") or get("name") or "-"
    else:
        if get("output_message"):
            _check_calls(d, ctx, flags)
        label = get("model_served") or req or get("name") or "-"
    if flags and ctx.ignore:
        flags = [f for f in flags if f[0] not in ctx.ignore]
    dur = get("duration_ms")
    # positional: a named tuple built from keywords costs a microsecond more per step
    return StepFacts(
        str(get("trace_id")),
        str(get("step_id")),
        _ts(get("started_at")),
        idx,
        get("task_class"),
        kind,
        label if isinstance(label, str) else str(label),
        float(dur) if dur is not None else None,
        dur is not None and not cache_hit and not error and not fi,
        error,
        flags,
    )


def trace_class(steps: list[StepFacts]) -> str | None:
    """A trace's task class: the first one given, in input order."""
    return next((s.task_class for s in steps if s.task_class), None)


def class_medians(
    groups: Iterable[list[StepFacts]], config: AuditConfig
) -> dict[tuple[str, str, str], ClassTiming]:
    """Median duration per timing class over eligible steps (the reduce half of the audit)."""
    samples: dict[tuple[str, str, str], list[float]] = {}
    for steps in groups:
        tc = trace_class(steps)
        for s in steps:
            key = (tc or "-", s.kind, s.label)
            bucket = samples.setdefault(key, [])
            if s.eligible and s.duration is not None:
                bucket.append(s.duration)
    out = {}
    for key, values in samples.items():
        ok = len(values) >= config.min_class_size
        out[key] = ClassTiming(
            task_class=key[0],
            kind=key[1],
            label=key[2],
            n=len(values),
            median_ms=statistics.median(values) if ok else None,
            state="ok" if ok else "not_enough_data",
        )
    return out


def timing_limits(
    medians: dict[tuple[str, str, str], ClassTiming], config: AuditConfig
) -> dict[tuple[str, str, str], tuple[float, float, ClassTiming]]:
    """Per class with a median: (slow limit, fast limit, the class)."""
    f = config.timing_factor
    return {
        k: (f * c.median_ms, c.median_ms / f, c)
        for k, c in medians.items()
        if c.median_ms is not None
    }


def timing_flag(
    duration: float, lim: tuple[float, float, ClassTiming], config: AuditConfig
) -> tuple[str, str] | None:
    """The timing flag (code, reason) a step of this duration gets against its class's
    limits (from :func:`timing_limits`), or None."""
    f = config.timing_factor
    if duration > lim[0]:
        if "slow_span" in config.ignore:
            return None
        t = lim[2]
        why = f"{duration:.0f} ms > {f:g} x median {t.median_ms:.0f} ms of {t.kind} {t.label} in {t.task_class}"
        return "slow_span", why
    if config.flag_fast and duration < lim[1] and "fast_span" not in config.ignore:
        return "fast_span", f"{duration:.0f} ms < median {lim[2].median_ms:.0f} ms / {f:g}"
    return None


def finalize(
    steps: list[StepFacts],
    limits: dict[tuple[str, str, str], tuple[float, float, ClassTiming]],
    config: AuditConfig,
) -> AuditRow:
    """The per-trace half of the audit: timing flags, the failure check and the verdict.

    ``steps`` are in input order; flags come out in start order.
    """
    cls = trace_class(steps)
    tc = cls or "-"
    found: list[tuple[float, int, str, str, str]] = []
    ignore = config.ignore
    last = steps[0]
    for s in steps:
        if s.ts > last.ts or (s.ts == last.ts and s.idx > last.idx):
            last = s
        if s.flags:
            for code, reason in s.flags:
                found.append((s.ts, s.idx, code, s.step_id, reason))
        if s.duration is None or not limits:
            continue
        lim = limits.get((tc, s.kind, s.label))
        if lim is None:
            continue
        timed = timing_flag(s.duration, lim, config)
        if timed is not None:
            found.append((s.ts, s.idx, timed[0], s.step_id, timed[1]))
    if last.error and "trace_failed" not in ignore:
        found.append((last.ts, last.idx, "trace_failed", last.step_id, TRACE_FAILED))
    verdict: Verdict = "clean"
    flags: list[tuple[str, str, str, str]] = []
    if found:
        if len(found) > 1:
            found.sort(key=lambda x: (x[0], x[1]))
        for _, _, code, step_id, reason in found:
            sev = config.verdict_of(code)
            if _RANK[sev] > _RANK[verdict]:
                verdict = sev
            flags.append((code, step_id, reason, sev))
    return (steps[0].trace_id, cls, verdict, len(steps), flags)


def summarize(
    rows: list[AuditRow],
    medians: dict[tuple[str, str, str], ClassTiming],
    config: AuditConfig,
    engine: str,
) -> AuditSummary:
    """Counts per verdict and per flag (a trace counts once per flag code)."""
    verdicts: dict[Verdict, int] = {"clean": 0, "noisy": 0, "corrupted": 0}
    flag_counts: dict[str, int] = {}
    n_steps = 0
    for _, _, verdict, n, flags in rows:
        verdicts[verdict] += 1  # type: ignore[index]
        n_steps += n
        if flags:
            for code in {fl[0] for fl in flags}:
                flag_counts[code] = flag_counts.get(code, 0) + 1
    return AuditSummary(
        n_traces=len(rows),
        n_steps=n_steps,
        verdicts=verdicts,
        flags=dict(sorted(flag_counts.items())),
        classes=sorted(medians.values(), key=lambda c: (c.task_class, c.kind, c.label)),
        config=config,
        engine=engine,
    )


def audit_groups(groups: list[list[StepFacts]], config: AuditConfig, engine: str) -> AuditReport:
    """Medians over all groups, then the per-trace verdicts and the summary."""
    medians = class_medians(groups, config)
    limits = timing_limits(medians, config)
    rows = [finalize(g, limits, config) for g in groups if g]
    return AuditReport(rows, summarize(rows, medians, config, engine))


def audit_traces(traces: Iterable[Trace], config: AuditConfig | None = None) -> AuditReport:
    """Audit traces in this process.

    Example:
        >>> report = audit_traces(read_traces("spans.jsonl"))  # doctest: +SKIP
        >>> report.summary.verdicts
        {'clean': 52, 'noisy': 31, 'corrupted': 17}
    """
    cfg = config or AuditConfig()
    ctx = AuditContext(cfg)
    groups: list[list[StepFacts]] = []
    idx = 0
    for trace in traces:
        facts = []
        for step in trace.steps:
            facts.append(step_facts(step.model_dump(), idx, ctx))
            idx += 1
        groups.append(facts)
    return audit_groups(groups, cfg, "python")
