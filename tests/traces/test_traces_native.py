"""The C scanner of the fast engine: reports identical to the msgspec path and the reference.

The scanner may only accept a line that is a valid step (as the msgspec struct and the
reference schema type it), and then its facts must be the msgspec path's; everything
else it declines to that path. ``NULLBAND_REQUIRE_NATIVE=1`` makes a missing extension
an error here instead of a skip.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import warnings
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest
from test_traces_fastaudit import CFG, _call, _odd_steps, _same
from traces_helpers import CorpusFiles, write_jsonl, write_spread_trace

from nullband.errors import InputError
from nullband.traces import native
from nullband.traces.audit import AuditContext
from nullband.traces.audit_models import AuditConfig
from nullband.traces.fastaudit import audit_file_fast
from nullband.traces.msgaudit import ChunkAuditor, ChunkFacts, split_ids
from nullband.traces.pipeline import audit_file, load_audit_config
from nullband.traces.synth import RESULT_SCHEMAS, TOOLS

pytestmark = pytest.mark.usefixtures("native_built")


def _three(path: Path, cfg: AuditConfig, **kw: Any) -> None:
    """Native, msgspec path and reference engine give the same report."""
    ref = audit_file(path, cfg, engine="python")
    fast = audit_file_fast(path, cfg, native=False, **kw)
    nat = audit_file_fast(path, cfg, native=True, **kw)
    _same(nat, ref)
    _same(nat, fast)
    assert [t.trace_id for t in nat.traces] == [t.trace_id for t in fast.traces]
    assert nat.summary == fast.summary


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"timing_factor": 1.1, "flag_fast": True, "ignore": ["retry"], "min_class_size": 50},
        {"pinned": {"gpt-4o-2024-08-06": "gpt-4o-2024-11-20"}, "severity": {"retry": "corrupted"}},
        {"ignore": ["fallback", "model_mismatch", "step_error", "cache_hit"]},
        {"ground_truth": {}, "tool_schemas": {}, "result_schemas": {}},
    ],
)
def test_planted_corpus_same_report_native_msgspec_reference(
    planted: CorpusFiles, extra: dict[str, object]
) -> None:
    cfg = load_audit_config(
        tools_path=planted.tools,
        result_schemas_path=planted.results,
        ground_truth_path=planted.truth,
    ).model_copy(update=extra)
    _three(planted.steps, cfg, processes=2, chunk_mb=1)


def test_the_scanner_accepts_the_clean_rows_of_the_planted_corpus(planted: CorpusFiles) -> None:
    # not a scanner that declines everything: most rows are proven clean in C
    cfg = load_audit_config(tools_path=planted.tools, result_schemas_path=planted.results)
    auditor = native.NativeChunkAuditor(AuditContext(cfg))
    data = planted.steps.read_bytes()
    facts = auditor.run(data, 0, 0, str(planted.steps))
    rows = len(facts.tcode)
    assert auditor.declined < 0.1 * rows
    assert len(facts.special) > auditor.declined  # C wrote the simple flags' facts itself


@pytest.mark.parametrize("processes", [1, 2])
def test_odd_rows_same_report(tmp_path: Path, processes: int) -> None:
    p = write_jsonl(tmp_path / "odd.jsonl", _odd_steps())
    cfg = CFG.model_copy(
        update={"ground_truth": {"gt-call": {"hits": []}, "gt-step": {"hits": ["b"]}}}
    )
    _three(p, cfg, processes=processes)
    _three(p, CFG, processes=processes)


def test_escapes_unicode_and_odd_values_same_report(tmp_path: Path) -> None:
    rows: list[dict[str, Any]] = [
        {
            "trace_id": "é\u2028x",
            "step_id": "s\u00e91",
            "task_class": "caf\u00e9",
            "retry_count": 3,
        },
        {
            "trace_id": 'q"\\/',
            "step_id": "2",
            "model_requested": "A/B\u00c9",
            "model_served": "b\u00e9",
        },
        {
            "trace_id": "r",
            "step_id": "\U0001f600",
            "model_requested": " X/Gpt ",
            "model_served": "gpt",
        },
        {
            "trace_id": "r",
            "step_id": "4",
            "status": "error",
            "error_type": " ",
            "error_message": "\t",
        },
        {"trace_id": "r", "step_id": "5", "status": "error", "error_message": "x\u00a0"},
        {"trace_id": "s", "step_id": "6", "fallback_index": 12, "provider_served": "a\u00e9"},
        {"trace_id": "s", "step_id": "7", "provider_requested": "a", "provider_served": "b"},
        {"trace_id": "s", "step_id": "8", "cache_hit": True, "cache_kind": ""},
        {"trace_id": "t", "step_id": "9", "task_class": "", "duration_ms": 0},
        {"trace_id": "t", "step_id": "10", "started_at": "2026-02-28T23:59:59.5-07:30"},
        {"trace_id": "t", "step_id": "11", "started_at": "2026-05-01 00:00:00+00:00"},
        {"trace_id": "t", "step_id": "12", "started_at": "2026-05-01T00:00:00.1234567Z"},
        {"trace_id": "t", "step_id": "13", "duration_ms": 1e300, "ttft_ms": 0.0},
        {"trace_id": "u", "step_id": "14", "retry_count": 2**62, "usage": {"input_tokens": -5}},
    ]
    p = write_jsonl(tmp_path / "odd2.jsonl", rows)
    for cfg in (AuditConfig(), AuditConfig(pinned={"gpt": "b\u00e9"}, ignore=["retry"])):
        _three(p, cfg, processes=1)


@pytest.mark.parametrize(
    "bad",
    [
        b'{"trace_id": "t", "step_id": \n',
        b'{"trace_id": "t", "step_id": "1", "fallback_idx": 1}\n',
        b'{"trace_id": "t", "step_id": "1", "duration_ms": -1}\n',
        b'{"trace_id": "t", "step_id": "1", "started_at": "2026-02-30T00:00:00Z"}\n',
        b'{"trace_id": "t", "step_id": "1", "name": "\\ud800"}\n',
        b'{"trace_id": "t", "step_id": "1", "name": "\xff"}\n',
        b'{"trace_id": "t", "step_id": "1"} x\n',
        b'{"step_id": "1"}\n',
        b"[1, 2]\n",
    ],
)
def test_refused_lines_give_the_same_error(tmp_path: Path, bad: bytes) -> None:
    good = b"".join(orjson.dumps({"trace_id": f"g{i}", "step_id": "1"}) + b"\n" for i in range(5))
    p = tmp_path / "bad.jsonl"
    p.write_bytes(good + b"\n" + bad + good)
    errors = []
    for flag in (False, True):
        with pytest.raises(InputError) as err:
            audit_file_fast(p, CFG, processes=1, native=flag)
        errors.append(str(err.value))
    assert errors[0] == errors[1]
    assert f"byte {len(good) + 1}" in errors[1]


def test_duplicate_keys_are_read_as_the_reference_reads_them(tmp_path: Path) -> None:
    lines = [
        b'{"trace_id": "a", "step_id": "1", "trace_id": "b"}',
        b'{"trace_id": "c", "step_id": "1", "retry_count": 0, "retry_count": 2}',
        b'{"trace_id": "c", "step_id": "2", "cache_hit": true, "cache_hit": false}',
        b'{"trace_id": "d", "step_id": "3", "usage": {"input_tokens": 1, "input_tokens": 2}}',
    ]
    p = tmp_path / "dup.jsonl"
    p.write_bytes(b"\n".join(lines) + b"\n")
    _three(p, AuditConfig(), processes=1)


def test_a_missing_extension_falls_back_or_fails_when_required(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = write_jsonl(tmp_path / "odd.jsonl", _odd_steps())
    ref = audit_file(p, CFG, engine="python")
    monkeypatch.setattr(native, "_scan", None)  # as if the build had no C compiler
    monkeypatch.delenv("NULLBAND_REQUIRE_NATIVE", raising=False)
    with pytest.warns(RuntimeWarning, match="not built"):
        _same(audit_file_fast(p, CFG, processes=1), ref)
    monkeypatch.setenv("NULLBAND_REQUIRE_NATIVE", "1")
    with pytest.raises(native.NativeMissingError, match="not built"):
        audit_file_fast(p, CFG, processes=1)
    with pytest.raises(native.NativeMissingError):
        native.make_auditor(AuditContext(CFG), native=True)


def test_the_c_source_compiles_without_warnings(tmp_path: Path) -> None:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    src = Path(native.__file__).with_name("_scan.c")
    inc = sysconfig.get_paths()["include"]
    out = subprocess.run(
        [cc, "-shared", "-fPIC", "-O3", "-Wall", "-Wextra", "-Werror", f"-I{inc}", str(src),
         "-o", str(tmp_path / "scan.so")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr


def test_the_fast_engine_does_not_import_the_heavy_parts() -> None:
    code = (
        "import sys, warnings; warnings.simplefilter('ignore');"
        "import nullband.traces.fastaudit, nullband.traces.native;"
        "heavy = [m for m in ('scipy', 'sklearn', 'aiohttp') if m in sys.modules];"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_no_warning_when_built() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert native.native_available()


def test_repeated_definitions_and_messages_are_checked_each_time(tmp_path: Path) -> None:
    # the scanner skips values byte-equal to ones it validated earlier in the chunk;
    # a value that differs anywhere (or was declined) is parsed again
    defs = [{"type": "function", "function": {"name": "search_kb", "parameters": {}}}]
    msg = {"role": "user", "content": "hi"}
    base = {"trace_id": "t", "duration_ms": 5.0, "input_messages": [msg], "tool_definitions": defs}
    rows: list[dict[str, Any]] = [
        {**base, "step_id": "1"},
        {**base, "step_id": "2", "tool_definitions": [*defs, 7]},  # not an object: refused
    ]
    p = write_jsonl(tmp_path / "memo.jsonl", rows)
    with pytest.raises(InputError) as a:
        audit_file_fast(p, CFG, processes=1, native=True)
    with pytest.raises(InputError) as b:
        audit_file_fast(p, CFG, processes=1, native=False)
    assert str(a.value) == str(b.value)
    big = {"role": "user", "content": "x", "n": 10**30}  # declined by C, valid for both
    rows = [
        {**base, "step_id": "1", "input_messages": [big]},
        {**base, "step_id": "2", "input_messages": [msg, big, msg]},
        {**base, "step_id": "3", "input_messages": [msg, msg], "retry_count": 1},
        {**base, "step_id": "4", "tool_definitions": [*defs, *defs]},
        {**base, "step_id": "5"},
    ]
    q = tmp_path / "memo2.jsonl"
    q.write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in rows))
    _three(q, CFG, processes=1)
    auditor = native.NativeChunkAuditor(AuditContext(CFG))
    auditor.run(q.read_bytes(), 0, 0, str(q))
    assert auditor.declined == 2  # the two lines holding the 31-digit integer


def test_a_trace_spread_over_chunks_same_report(tmp_path: Path) -> None:
    p = write_spread_trace(tmp_path / "spread.jsonl")
    _three(p, AuditConfig(), processes=2, chunk_mb=1)


def test_a_call_whose_function_is_not_an_object_is_audited(tmp_path: Path) -> None:
    # the reference schema takes any output_message object; such a call once crashed
    # the per-step rules (found by the fuzz test)
    rows: list[dict[str, Any]] = [
        {"trace_id": "a", "step_id": "1", "output_message": {"tool_calls": [{"function": 1}]}},
        {
            "trace_id": "b",
            "step_id": "1",
            "output_message": {"tool_calls": [{"function": "x"}, {"function": None}]},
            "tool_definitions": [{"type": "function", "function": {"name": "search_kb"}}],
        },
    ]
    rows.append(
        {
            "trace_id": "c",
            "step_id": "1",
            "output_message": {"tool_calls": [{"function": {"name": "lookup"}}]},
            "tool_definitions": [{"function": 1}, {"function": {"name": "lookup"}}],
        }
    )
    p = write_jsonl(tmp_path / "fn.jsonl", rows)
    _three(p, CFG, processes=1)
    ref = audit_file(p, CFG, engine="python")
    verdicts = {t.trace_id: t.verdict for t in ref.traces}
    assert verdicts == {"a": "clean", "b": "corrupted", "c": "clean"}


def _handover_dirs() -> set[str]:
    import glob
    import tempfile

    roots = ["/dev/shm", tempfile.gettempdir()]
    return {d for r in roots for d in glob.glob(os.path.join(r, "nullband-audit-*"))}


def test_workers_hand_over_through_files_that_are_removed(tmp_path: Path) -> None:
    filler = [{"trace_id": f"f{i}", "step_id": "1", "name": "x" * 900} for i in range(2600)]
    good = write_jsonl(tmp_path / "good.jsonl", filler)
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(good.read_bytes() + b'{"trace_id": "t", "step_id": \n')
    before = _handover_dirs()
    _three(good, AuditConfig(), processes=2, chunk_mb=1)
    with pytest.raises(InputError, match="not valid JSON"):
        audit_file_fast(bad, AuditConfig(), processes=2, chunk_mb=1)
    assert _handover_dirs() == before


# ------------------------------------------- tool checks C leaves to Python (pending)


def _row_facts(c: ChunkFacts) -> list[tuple[Any, ...]]:
    """Every row's per-step facts: its special facts, else those its compact facts give
    (as the parent builds them); the compact facts of a special row must agree."""
    ids = split_ids(c.step_ids, len(c.tcode))
    out = []
    for r in range(len(c.tcode)):
        task, kind, label = c.keys[int(c.kcode[r])]
        d = float(c.dur[r])
        compact = (
            c.trace_ids[int(c.tcode[r])], ids[r], float(c.ts[r]), c.first_idx + r, task, kind,
            label, None if d != d else d, d == d, False, [],
        )  # fmt: skip
        f = c.special.get(r)
        if f is None:
            out.append(compact)
            continue
        assert (f[0], f[1], f[2], f[3], f[4] or None, f[5], f[6], f[7]) == compact[:8]
        out.append(tuple(f))
    return out


def _native_vs_msgspec(
    rows: list[dict[str, Any]], cfg: AuditConfig, tmp_path: Path
) -> tuple[native.NativeChunkAuditor, list[tuple[Any, ...]]]:
    """Native chunk facts equal the msgspec path's row for row, and the three engines'
    reports agree; returns the native auditor (its counters) and the rows' facts."""
    p = write_jsonl(tmp_path / "pending.jsonl", rows)
    data = p.read_bytes()
    auditor = native.NativeChunkAuditor(AuditContext(cfg))
    got = _row_facts(auditor.run(data, 0, 0, str(p)))
    want = _row_facts(ChunkAuditor(AuditContext(cfg)).run(data, 0, 0, str(p)))
    assert got == want
    _three(p, cfg, processes=1)
    return auditor, got


_BASE: dict[str, Any] = {"trace_id": "p", "duration_ms": 10.0}
_KB_BAD = '{"query":"","top_k":3}'
_KB_OK = '{"query":"refund policy","top_k":3}'
_RESULT_OK = {"hits": ["kb-1"]}


def _pending_rows() -> list[dict[str, Any]]:
    """Lines C now leaves only tool checks of to Python (one per row)."""
    refund_bad = '{"order_id":"o1","amount":-1,"currency":"USD"}'
    rows: list[dict[str, Any]] = [
        # llm steps: failing calls, alone or among valid ones, in several shapes
        {"output_message": {"tool_calls": [_call("search_kb", _KB_BAD)]}},
        {
            "output_message": {
                "tool_calls": [
                    _call("crm_lookup", '{"customer_id":"C000123"}'),
                    _call("search_kb", {"query": "", "top_k": 3}),
                    _call("unconfigured", "{}"),
                    _call("create_refund", refund_bad),
                    _call("search_kb", _KB_OK),
                ]
            }
        },
        {"output_message": {"tool_calls": [_call("search_kb", no_args=True)]}},
        {"output_message": {"tool_calls": [_call("search_kb", "not json")]}},
        {"output_message": {"tool_calls": [_call("search_kb", None)]}},
        {"output_message": {"tool_calls": [_call("search_kb", 5)]}},
        {"output_message": {"tool_calls": [_call("crm_lookup", '{"customer_id":"X12"}')]}},
        {"output_message": {"tool_calls": [_call("search_kb", '{"query":"caf\\u00e9 \\"x\\""}')]}},
        {  # simple flags too: they come first
            "retry_count": 2,
            "model_requested": "gpt-4o",
            "model_served": "gpt-4o-mini",
            "output_message": {"tool_calls": [_call("search_kb", _KB_BAD)]},
        },
        # tool steps: failing arguments, failing results, both
        {"kind": "tool", "tool_name": "search_kb", "tool_arguments": _KB_BAD, "tool_result": _RESULT_OK},
        {"kind": "tool", "tool_name": "search_kb", "tool_arguments": {"query": ""}, "tool_result": _RESULT_OK},
        {"kind": "tool", "tool_name": "search_kb", "tool_arguments": _KB_BAD},
        {"kind": "tool", "tool_name": "crm_lookup", "tool_arguments": '{"customer_id":"C000123"}',
         "tool_result": {"error": "upstream returned HTML"}},
        {"kind": "tool", "tool_name": "crm_lookup", "tool_result": {"customer_id": 7, "tier": "gold"}},
        {"kind": "tool", "tool_name": "crm_lookup"},
        {"kind": "tool", "tool_name": "crm_lookup", "tool_result": None},
        {"kind": "tool", "tool_name": "search_kb", "tool_arguments": _KB_BAD,
         "tool_result": {"hits": [1]}, "status": "error", "error_message": "boom",
         "cache_hit": True, "fallback_index": 1, "provider_served": "p"},
        # not proven in C (an escaped key), valid for the reference: no flag at all
        {"kind": "tool", "tool_name": "search_kb", "tool_arguments": '{"qu\\u0065ry":"x"}',
         "tool_result": _RESULT_OK},
        {"output_message": {"tool_calls": [_call("search_kb", '{"top_\\u006b":3,"query":"x"}')]}},
    ]  # fmt: skip
    return [{**_BASE, "step_id": str(i), **r} for i, r in enumerate(rows)]


@pytest.mark.parametrize(
    "ignore",
    [
        [],
        ["tool_args_invalid"],
        ["tool_result_invalid", "retry"],
        ["tool_args_invalid", "fallback"],
    ],
)
def test_failing_tool_checks_are_run_in_python_not_declined(
    tmp_path: Path, ignore: list[str]
) -> None:
    rows = _pending_rows()
    cfg = CFG.model_copy(update={"ignore": ignore})
    auditor, facts = _native_vs_msgspec(rows, cfg, tmp_path)
    assert auditor.declined == 0
    assert auditor.pending == len(rows)
    flags = {f[1]: f[10] for f in facts}
    args = "tool_args_invalid" not in ignore
    res = "tool_result_invalid" not in ignore
    assert flags["0"] == (
        [("tool_args_invalid", "search_kb: query: '' should be non-empty")] * args
    )
    # only the failing calls flag, in call order
    assert [(c, r.split(":")[0]) for c, r in flags["1"]] == [
        ("tool_args_invalid", "search_kb"),
        ("tool_args_invalid", "create_refund"),
    ] * args
    assert flags["2"] == [("tool_args_invalid", "search_kb: 'query' is a required property")] * args
    assert [c for c, _ in flags["8"]] == [
        c
        for c in ("retry", "model_mismatch", "tool_args_invalid")
        if c not in ignore
    ]  # fmt: skip
    assert (
        flags["12"]
        == [("tool_result_invalid", "crm_lookup result: 'customer_id' is a required property")]
        * res
    )
    assert [c for c, _ in flags["16"]] == [
        c
        for c in ("fallback", "cache_hit", "step_error", "tool_args_invalid", "tool_result_invalid")
        if c not in ignore
    ]
    assert flags["17"] == flags["18"] == []


def test_lines_with_more_than_a_failing_tool_check_are_still_declined(tmp_path: Path) -> None:
    never = {"type": "object", "properties": {"a": {"type": "string"}}, "minProperties": 1}
    cfg = CFG.model_copy(
        update={
            "tool_schemas": {**TOOLS, "never": never},
            "result_schemas": {**RESULT_SCHEMAS, "never": never},
        }
    )
    defs = [{"type": "function", "function": {"name": "offered", "parameters": {}}}]
    rows: list[dict[str, Any]] = [
        # a string result the reference may parse first
        {"kind": "tool", "tool_name": "search_kb", "tool_arguments": _KB_BAD,
         "tool_result": '{"hits": []}'},
        {"kind": "tool", "tool_name": "search_kb", "tool_result": "plain"},
        # a call to a tool that only the trace's definitions describe
        {"output_message": {"tool_calls": [_call("search_kb", _KB_BAD), _call("offered", "{}")]},
         "tool_definitions": defs},
        # a tool without a plan (C has no minProperties), for its arguments or result
        {"kind": "tool", "tool_name": "never", "tool_arguments": "{}"},
        {"kind": "tool", "tool_name": "never", "tool_result": {}},
        {"output_message": {"tool_calls": [_call("search_kb", _KB_BAD), _call("never", "{}")]}},
        # a call whose function is null; a model name C does not normalise
        {"output_message": {"tool_calls": [_call("search_kb", _KB_BAD), {"function": None}]}},
        {"model_requested": "Modèle", "model_served": "x",
         "output_message": {"tool_calls": [_call("search_kb", _KB_BAD)]}},
    ]  # fmt: skip
    rows = [{**_BASE, "step_id": str(i), **r} for i, r in enumerate(rows)]
    auditor, facts = _native_vs_msgspec(rows, cfg, tmp_path)
    assert (auditor.declined, auditor.pending) == (len(rows), 0)
    assert [c for c, _ in facts[0][10]] == ["tool_args_invalid"]
    assert [c for c, _ in facts[3][10]] == ["tool_args_invalid", "tool_result_invalid"]
    # with ground truth, tool steps decline; llm steps' failing calls still go to Python
    tool_step = {"kind": "tool", "tool_name": "search_kb", "tool_arguments": _KB_BAD}
    llm_step = {"output_message": {"tool_calls": [_call("search_kb", _KB_BAD)]}}
    rows = [{**_BASE, "step_id": "g", **tool_step}, {**_BASE, "step_id": "h", **llm_step}]
    gt = CFG.model_copy(update={"ground_truth": {"g": {"hits": []}}})
    auditor, facts = _native_vs_msgspec(rows, gt, tmp_path)
    assert (auditor.declined, auditor.pending) == (1, 1)
    assert [c for c, _ in facts[0][10]] == [
        "tool_args_invalid",
        "tool_result_invalid",
        "tool_result_mismatch",
    ]


def test_a_pending_value_that_does_not_decode_goes_the_declined_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(buf: Any) -> Any:
        raise msgspec.DecodeError("refused")

    monkeypatch.setattr(native, "_decode_any", refuse)
    rows = _pending_rows()
    auditor, facts = _native_vs_msgspec(rows, CFG, tmp_path)
    assert auditor.pending == len(rows)
    # the rows with arguments to decode fell back (not those whose checks need none:
    # a call without arguments, a tool step whose arguments C proved)
    data = (tmp_path / "pending.jsonl").read_bytes()
    got = native._scan.scan(data, native.build_plan(AuditContext(CFG)), 0)  # type: ignore[union-attr]
    read_args = {p[0] for p in got[10] if any(c[1] >= 0 for c in p[6])}
    assert read_args == set(range(len(rows))) - {2, 12, 13, 14, 15}
    assert auditor.declined == len(read_args)
    assert facts[0][10] == [("tool_args_invalid", "search_kb: query: '' should be non-empty")]


def test_a_plan_part_c_cannot_match_leaves_the_check_to_python(tmp_path: Path) -> None:
    # the tool has a plan, but not for its pattern: C proves nothing about "a" and the
    # reference's check runs on the arguments alone
    schema = {"type": "object", "properties": {"a": {"type": "string", "pattern": "^(x|y)$"}}}
    cfg = AuditConfig(tool_schemas={"alt": schema})
    rows: list[dict[str, Any]] = [
        {"kind": "tool", "tool_name": "alt", "tool_arguments": '{"a": "x"}'},
        {"kind": "tool", "tool_name": "alt", "tool_arguments": '{"a": "z"}'},
        {"output_message": {"tool_calls": [_call("alt", {"a": "y"}), _call("alt", {"a": "q"})]}},
    ]
    rows = [{**_BASE, "step_id": str(i), **r} for i, r in enumerate(rows)]
    auditor, facts = _native_vs_msgspec(rows, cfg, tmp_path)
    assert (auditor.declined, auditor.pending) == (0, 3)
    assert [f[10] for f in facts] == [
        [],
        [("tool_args_invalid", "alt: a: 'z' does not match '^(x|y)$'")],
        [("tool_args_invalid", "alt: a: 'q' does not match '^(x|y)$'")],
    ]
