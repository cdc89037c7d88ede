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

import pytest
from test_traces_fastaudit import _same
from traces_helpers import CorpusFiles

from nullband.traces import native
from nullband.traces.audit import AuditContext, StepFacts
from nullband.traces.audit_models import AuditConfig, AuditReport
from nullband.traces.fastaudit import _cuts
from nullband.traces.fastreduce import Reducer
from nullband.traces.msgaudit import ChunkAuditor, split_ids
from nullband.traces.msgrows import FLAG_CODES, VERDICTS, flagged_rows
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


@pytest.mark.parametrize("extra", [{}, CONFIGS[6]])
@pytest.mark.parametrize("use_native", [True, False])
def test_the_wire_form_keeps_every_flagged_fact_and_row(
    planted: CorpusFiles, use_native: bool, extra: dict[str, Any]
) -> None:
    """What a worker sends (msgwire.encode) rebuilds the chunk's reference facts, and
    each flagged trace's row is finalize's (msgrows.flagged_rows over all its steps)."""
    if use_native and native._scan is None:
        pytest.skip("nullband.traces._scan is not built")
    cfg = _planted_config(planted, extra)
    ctx = AuditContext(cfg)
    auditor = native.NativeChunkAuditor(ctx) if use_native else ChunkAuditor(ctx)
    data = planted.steps.read_bytes()
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
    special = {r: StepFacts._make(f) for r, f in chunk.special.items()}
    ref = flagged_rows(
        ctx, first, chunk.trace_ids, chunk.tcode, chunk.keys, chunk.kcode, chunk.dur,
        chunk.ts, ids.__getitem__, special,
    )  # fmt: skip
    # the planted corpus has flagged traces, failed ones among them
    assert len(ref) > len(chunk.rows) > 0
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
