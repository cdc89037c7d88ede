"""The fast engine's reduce, fed chunks cut anywhere, gives the reference report.

The reduce builds rows as chunks arrive, counts the workers' rows for the summary and
takes out those it redoes, slices step ids by the scanner's offsets (split ids on the
msgspec path), and redoes a trace that lies in one chunk with only timed steps from
those steps alone. Chunks cut every few lines, over a file whose traces are
interleaved, put traces in many chunks and exercise each of these paths.
"""

from __future__ import annotations

import random
from itertools import pairwise
from pathlib import Path
from typing import Any

import orjson
import pytest
from test_traces_fastaudit import _same
from traces_helpers import CorpusFiles

from nullband.traces import native
from nullband.traces.audit import AuditContext, StepFacts, finalize
from nullband.traces.audit_models import AuditConfig, AuditReport, AuditRow
from nullband.traces.fastaudit import _cuts
from nullband.traces.fastreduce import Reducer
from nullband.traces.msgaudit import ChunkAuditor, ChunkFacts, split_ids
from nullband.traces.msgrows import FLAG_CODES, VERDICTS
from nullband.traces.msgwire import encode, flagged_rows_of, special_facts
from nullband.traces.pipeline import audit_file, load_audit_config

CONFIGS: list[dict[str, Any]] = [
    {},
    {"timing_factor": 1.1, "flag_fast": True, "min_class_size": 3},
    # without recorded truth, tool steps carry no per-step facts: many traces have only
    # timed steps that can carry a flag
    {"timing_factor": 1.1, "flag_fast": True, "ground_truth": {}},
    {"timing_factor": 1.1, "ground_truth": {}, "severity": {"slow_span": "corrupted"}},
    {"timing_factor": 1.1, "ground_truth": {}, "flag_fast": True, "ignore": ["slow_span"]},
    {"timing_factor": 1.2, "ignore": ["slow_span"]},
    {"severity": {"slow_span": "corrupted"}, "ignore": ["retry", "step_error"]},
]


def _reduce(path: Path, cfg: AuditConfig, cuts: list[int], use_native: bool) -> AuditReport:
    data = path.read_bytes()
    ctx = AuditContext(cfg)
    auditor = native.NativeChunkAuditor(ctx) if use_native else ChunkAuditor(ctx)
    red = Reducer(cfg)
    for i, (a, b) in enumerate(pairwise(cuts)):
        chunk = auditor.run(data[a:b], a, i << 40, str(path))
        # every other chunk in its wire form (what workers send), the others as the
        # chunk auditor gives them
        red.add(chunk if i % 2 else encode(chunk))
    return red.report()


def _planted_config(planted: CorpusFiles, extra: dict[str, Any]) -> AuditConfig:
    """The planted corpus's schemas and ground truth, with ``extra`` settings."""
    return load_audit_config(
        tools_path=planted.tools,
        result_schemas_path=planted.results,
        ground_truth_path=planted.truth,
    ).model_copy(update=extra)


def _line_cuts(path: Path, every: int, seed: int) -> list[int]:
    """Byte offsets of line starts, about every ``every`` lines (randomly), from 0 to the end."""
    data = path.read_bytes()
    ends = [i + 1 for i, c in enumerate(data) if c == 10]
    rng = random.Random(seed)
    cuts = [0]
    i = 0
    while i < len(ends) - 1:
        i = min(i + rng.randint(1, 2 * every), len(ends) - 1)
        cuts.append(ends[i - 1])
    cuts.append(len(data))
    return sorted(set(cuts))


@pytest.fixture(scope="module")
def interleaved(planted: CorpusFiles, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The planted corpus with its lines shuffled: most traces spread over the file."""
    lines = planted.steps.read_bytes().splitlines(keepends=True)
    random.Random(7).shuffle(lines)
    p = tmp_path_factory.mktemp("interleaved") / "steps.jsonl"
    p.write_bytes(b"".join(lines))
    return p


@pytest.mark.parametrize("extra", CONFIGS)
@pytest.mark.parametrize("use_native", [True, False])
@pytest.mark.parametrize("every", [3, 40, 700])
def test_chunks_cut_anywhere_give_the_reference_report(
    planted: CorpusFiles, extra: dict[str, Any], use_native: bool, every: int
) -> None:
    if use_native and native._scan is None:
        pytest.skip("nullband.traces._scan is not built")
    cfg = _planted_config(planted, extra)
    ref = audit_file(planted.steps, cfg, engine="python")
    got = _reduce(planted.steps, cfg, _line_cuts(planted.steps, every, every), use_native)
    _same(got, ref)
    # rows come in first-seen order, as the reference lists its traces
    assert [r[0] for r in got.rows] == [r[0] for r in ref.rows]
    if "slow_span" not in extra.get("ignore", []):
        assert ref.summary.flags["slow_span"] > 0


@pytest.mark.parametrize("extra", CONFIGS[:3])
@pytest.mark.parametrize("use_native", [True, False])
def test_interleaved_traces_give_the_reference_report(
    planted: CorpusFiles, interleaved: Path, extra: dict[str, Any], use_native: bool
) -> None:
    if use_native and native._scan is None:
        pytest.skip("nullband.traces._scan is not built")
    cfg = AuditConfig(
        tool_schemas=load_audit_config(tools_path=planted.tools).tool_schemas,
        result_schemas=load_audit_config(result_schemas_path=planted.results).result_schemas,
    ).model_copy(update=extra)
    ref = audit_file(interleaved, cfg, engine="python")
    got = _reduce(interleaved, cfg, _line_cuts(interleaved, 300, 1), use_native)
    _same(got, ref)
    assert ref.summary.verdicts["corrupted"] > 0


@pytest.mark.parametrize(("n_chunks", "tail"), [(1, 0), (1, 4), (3, 0), (5, 4), (40, 4)])
def test_cuts_cover_the_file_at_line_ends(planted: CorpusFiles, n_chunks: int, tail: int) -> None:
    data = planted.steps.read_bytes()
    jobs = _cuts(planted.steps, n_chunks, tail)
    assert jobs[0][0] == 0
    assert jobs[-1][1] == len(data)
    for (_, end, i), (start, _, j) in pairwise(jobs):
        assert end == start
        assert data[end - 1] == 10  # a chunk ends at a line end
        assert j > i
    if n_chunks > 1 and tail > 1:
        # the last chunk's bytes are cut into smaller ones
        sizes = [b - a for a, b, _ in jobs]
        assert len(jobs) == n_chunks + tail - 1
        assert max(sizes[-tail:]) < min(sizes[: n_chunks - 1])


def test_no_chunks_give_the_empty_report() -> None:
    got = Reducer(AuditConfig()).report()
    assert got.rows == []
    assert got.summary.n_traces == 0
    assert got.summary.n_steps == 0
    assert got.summary.verdicts == {"clean": 0, "noisy": 0, "corrupted": 0}
    assert got.summary.flags == {}


@pytest.mark.parametrize(
    "extra",
    [
        {},
        CONFIGS[6],
        {"ignore": ["trace_failed"]},
        {"severity": {"trace_failed": "noisy", "step_error": "corrupted"}},
    ],
)
@pytest.mark.parametrize("use_native", [True, False])
def test_the_wire_form_keeps_every_flagged_fact_and_row(
    planted: CorpusFiles, use_native: bool, extra: dict[str, Any]
) -> None:
    """What a worker sends (msgwire.encode) rebuilds the chunk's reference facts, and
    each flagged trace's row is finalize's (without timing limits, over all its steps)."""
    if use_native and native._scan is None:
        pytest.skip("nullband.traces._scan is not built")
    cfg = _planted_config(planted, extra)
    ctx = AuditContext(cfg)
    auditor = native.NativeChunkAuditor(ctx) if use_native else ChunkAuditor(ctx)
    data = planted.steps.read_bytes() + _FAILED_LAST
    first = 5 << 40
    chunk = auditor.run(data, 0, first, str(planted.steps))
    wire = encode(chunk)
    assert wire.sp_at.tolist() == sorted(chunk.special)
    ids = split_ids(chunk.step_ids, len(chunk.tcode))
    for j, r in enumerate(wire.sp_at.tolist()):
        want = StepFacts._make(chunk.special[r])
        got = special_facts(wire, j, chunk.trace_ids[int(chunk.tcode[r])], ids[r], first + r)
        # the rebuilt class comes from the timing key, where an empty class is None
        assert got == want._replace(task_class=want.task_class or None)
    ref = _finalize_flagged(chunk, cfg, ids, first)
    # flagged traces, three ending in trace_failed (unless it is ignored)
    fails = {chunk.trace_ids[t] for t in chunk.fails or {}}
    assert fails == ({"zz1", "zz2", "zz4"} if "trace_failed" not in cfg.ignore else set())
    assert len(ref) > 3
    ended = {
        chunk.trace_ids[t] for t, row in ref.items() if row[4] and row[4][-1][0] == "trace_failed"
    }
    assert ended == fails
    n = len(chunk.trace_ids)
    cls_of: list[str | None] = [None] * n
    steps = [0] * n
    for t, row in ref.items():
        cls_of[t], steps[t] = row[1], row[3]
    assert flagged_rows_of(wire, cfg, list(range(n)), cls_of, steps) == ref
    assert sorted(wire.row_t.tolist()) == sorted(ref)
    for t, v, m in zip(wire.row_t.tolist(), wire.row_verdict, wire.row_mask, strict=True):
        row = ref[t]
        assert VERDICTS[v] == row[2]
        assert {c for i, c in enumerate(FLAG_CODES) if int(m) >> i & 1} == {f[0] for f in row[4]}


def _step(tid: str, sid: str, second: int, error: bool) -> bytes:
    status = {"status": "error", "error_message": "boom"} if error else {"status": "ok"}
    return orjson.dumps(
        {"trace_id": tid, "step_id": sid, "kind": "llm", "model_requested": "m",
         "model_served": "m", "started_at": f"2026-01-01T00:00:{second:02d}Z", **status}
    ) + b"\n"  # fmt: skip


_FAILED_LAST = b"".join(
    [
        _step("zz1", "a", 1, False), _step("zz1", "b", 2, True),  # the last step fails
        _step("zz2", "a", 5, True), _step("zz2", "b", 3, False),  # last by start time
        _step("zz3", "a", 7, True), _step("zz3", "b", 7, False),  # same start: the later row
        _step("zz4", "a", 9, True), _step("zz4", "b", 9, True),  # both fail
        _step("zz5", "a", 4, True), _step("zz5", "b", 6, False),  # recovered
    ]
)  # fmt: skip
"""Traces whose last step fails (zz1, zz2, zz4) or not (zz3, zz5)."""


def _finalize_flagged(
    chunk: ChunkFacts, cfg: AuditConfig, ids: list[str], first: int
) -> dict[int, AuditRow]:
    """Trace code -> finalize (no timing limits) over all the steps of each trace with a
    special row: the reference's facts where the chunk has them, else a clean step."""
    flagged = {int(chunk.tcode[r]) for r in chunk.special}
    groups: dict[int, list[StepFacts]] = {}
    for r, t in enumerate(chunk.tcode.tolist()):
        if t not in flagged:
            continue
        f = chunk.special.get(r)
        if f is None:
            task, kind, label = chunk.keys[int(chunk.kcode[r])]
            d = float(chunk.dur[r])
            none = d != d
            f = StepFacts(
                chunk.trace_ids[t], ids[r], float(chunk.ts[r]), first + r, task, kind, label,
                None if none else d, not none, False, [],
            )  # fmt: skip
        groups.setdefault(t, []).append(StepFacts._make(f))
    return {t: finalize(g, {}, cfg) for t, g in groups.items()}


def test_a_report_builds_its_rows_once_and_only_when_asked() -> None:
    built: list[int] = []

    def rows() -> list[Any]:
        built.append(1)
        return [("t1", None, "clean", 1, [])]

    rep = AuditReport(rows, Reducer(AuditConfig()).report().summary)
    assert built == []
    assert rep.rows == [("t1", None, "clean", 1, [])]
    assert rep.by_verdict("clean") == {"t1"}
    assert built == [1]


@pytest.mark.parametrize(
    "extra", [{}, {"ignore": ["trace_failed"]}, {"severity": {"trace_failed": "noisy"}}]
)
@pytest.mark.parametrize("use_native", [True, False])
@pytest.mark.parametrize("every", [1, 3, 1000])
def test_traces_whose_last_step_fails_give_the_reference_report(
    tmp_path: Path, extra: dict[str, Any], use_native: bool, every: int
) -> None:
    """trace_failed (the last step by start time, then by row) on every chunking."""
    if use_native and native._scan is None:
        pytest.skip("nullband.traces._scan is not built")
    p = tmp_path / "failed.jsonl"
    p.write_bytes(_FAILED_LAST)
    cfg = AuditConfig().model_copy(update=extra)
    ref = audit_file(p, cfg, engine="python")
    got = _reduce(p, cfg, _line_cuts(p, every, every), use_native)
    _same(got, ref)
    failed = {t.trace_id for t in ref.traces if any(f.code == "trace_failed" for f in t.flags)}
    assert failed == (set() if extra.get("ignore") else {"zz1", "zz2", "zz4"})
