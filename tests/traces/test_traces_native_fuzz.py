"""Differential fuzzing of the C scanner against the msgspec path and the reference schema.

Random steps (valid and not) and corrupted lines: every line the scanner accepts must be
a step the reference schema accepts, with exactly the facts the msgspec path gives and
the flags the reference per-step function gives; whole chunks give the same facts.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
from functools import partial

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nullband.errors import InputError
from nullband.traces import native
from nullband.traces.audit import AuditContext, StepFacts, step_facts
from nullband.traces.audit_models import AuditConfig
from nullband.traces.msgaudit import ChunkAuditor, ChunkFacts
from nullband.traces.schema import Step
from nullband.traces.synth import RESULT_SCHEMAS, TOOLS

CONFIGS = [
    AuditConfig(tool_schemas=TOOLS, result_schemas=RESULT_SCHEMAS),
    AuditConfig(
        tool_schemas={**TOOLS, "echo": {"type": "string", "pattern": "^[a-z]+-?[0-9]*$"}},
        result_schemas={**RESULT_SCHEMAS, "echo": {"type": ["string", "null"]}},
        pinned={"gpt-4o": "GPT-4o-mini", "é/x": "y"},
        ignore=["retry", "cache_hit"],
    ),
]
SETTINGS = settings(
    max_examples=int(os.environ.get("NULLBAND_FUZZ_EXAMPLES", "400")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


pytestmark = pytest.mark.usefixtures("native_built")


_short = st.text(alphabet=st.sampled_from('ab/ -_Xé\u00a0\t"\\\u2028\U0001f600'), max_size=6)
_models = (
    st.sampled_from(
        ["gpt-4o", "openai/gpt-4o", " GPT-4o ", "gpt-4o-mini", "é/x", "y", "É", "a/b/c", ""]
    )
    | _short
)
_names = st.sampled_from(["crm_lookup", "create_refund", "search_kb", "echo", "other", ""])
_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _short,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(_short, kids, max_size=3),
    max_leaves=6,
)
_crm = st.fixed_dictionaries(
    {"customer_id": st.sampled_from(["C000123", "C12", "X000123", "C0001234", "C00012\u0663"])},
    optional={"fields": st.lists(_short | st.integers(), max_size=2), "x": _json},
)
_refund = st.fixed_dictionaries(
    {"order_id": _short, "amount": st.integers(-3, 10) | st.floats(-1, 1e6) | st.just(0.0)},
    optional={"currency": st.sampled_from(["USD", "EUR", "JPY", "usd"]), "note": _json},
)
_kb = st.fixed_dictionaries(
    {"query": _short}, optional={"top_k": st.integers(-1, 12) | st.floats(0, 12) | st.none()}
)
_args_value = _crm | _refund | _kb | _json
_args = (
    _args_value.map(json.dumps)
    | _args_value
    | st.sampled_from(["{", "", "[]", "{}", "null", ' {"query": "x"} ', "abc-12", "ABC"])
)
_results = (
    st.fixed_dictionaries(
        {"customer_id": _short, "tier": _short | st.integers()},
        optional={"refund_id": _short, "status": st.sampled_from(["ok", "pending", "no"])},
    )
    | st.fixed_dictionaries({"hits": st.lists(_short | st.integers(), max_size=3)})
    | st.fixed_dictionaries({"refund_id": _short, "status": st.sampled_from(["ok", "x"])})
    | _json
    | st.sampled_from(['{"hits": []}', "[1]", "", "plain"])
)
_times = st.sampled_from(
    [
        "2026-05-01T00:00:00+00:00",
        "2026-05-01T00:00:00Z",
        "2026-05-01T00:00:00.5Z",
        "2026-05-01T23:59:59.999999-07:30",
        "2026-05-01T00:00:00.1234567Z",
        "2026-05-01T00:00:00",
        "2026-05-01 00:00:00Z",
        "2026-02-29T00:00:00Z",
        "2024-02-29T12:00:00+14:00",
        "2026-13-01T00:00:00Z",
        "2026-05-01T24:00:00Z",
        "2026-05-01T00:00:60Z",
        "2026-05-01T00:00:00-00:00",
        "2026-05-01t00:00:00z",
        "1969-12-31T23:59:59.999999Z",
        "9999-12-31T23:59:59Z",
        "yesterday",
        "",
    ]
) | st.datetimes(
    min_value=dt.datetime(1960, 1, 1),
    max_value=dt.datetime(2300, 1, 1),
    timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=5, minutes=30))]),
).map(lambda d: d.isoformat())
_counts = st.integers(-2, 3) | st.integers(0, 2**64) | st.none() | st.just("1") | st.just(1.0)
_durs = (
    st.none()
    | st.floats(-1, 1e6, allow_nan=False)
    | st.integers(-5, 10**17)
    | st.sampled_from([0, 0.0, -0.0, 1e300, 944.148, 0.1, 123456789.123456789])
)
_calls = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {"function": st.fixed_dictionaries({"name": _names}, optional={"arguments": _args})},
            optional={"id": _short, "type": st.just("function")},
        ),
        st.fixed_dictionaries({"function": st.none() | st.integers()}),
        st.just({}),
        _json,
    ),
    max_size=3,
)
_out = st.none() | st.fixed_dictionaries(
    {}, optional={"tool_calls": _calls | st.none(), "content": _short, "role": _short}
)
_defs = st.lists(
    st.fixed_dictionaries(
        {"type": st.just("function")},
        optional={
            "function": st.fixed_dictionaries({"name": _names}, optional={"parameters": _json})
        },
    ),
    max_size=2,
)
_step = st.fixed_dictionaries(
    {"trace_id": st.sampled_from(["t1", "t2", "é\u2028", ""]) | _short, "step_id": _short},
    optional={
        "kind": st.sampled_from(["llm", "tool", "agent", "other", "robot", "LLM"]),
        "task_class": st.none() | st.sampled_from(["", "refund", "kb"]) | _short,
        "name": st.none() | _short,
        "model_requested": st.none() | _models,
        "model_served": st.none() | _models,
        "model_routed": st.none() | _models,
        "provider_requested": st.none() | _models,
        "provider_served": st.none() | _models,
        "fallback_index": _counts,
        "retry_count": _counts,
        "cache_hit": st.booleans() | st.none() | st.just("false") | st.just(0),
        "cache_kind": st.none() | _short,
        "status": st.sampled_from(["ok", "error", "fail", None]),
        "error_type": st.none() | _short,
        "error_message": st.none() | _short | st.integers(),
        "duration_ms": _durs,
        "ttft_ms": _durs,
        "cost_usd": _durs,
        "started_at": st.none() | _times | st.integers(),
        "tool_name": st.none() | _names,
        "tool_call_id": st.none() | _short,
        "tool_arguments": st.none() | _args,
        "tool_result": _results,
        "output_message": _out | _json,
        "tool_definitions": _defs | _json,
        "input_messages": st.lists(st.dictionaries(_short, _json, max_size=2), max_size=2) | _json,
        "usage": st.dictionaries(
            st.sampled_from(["input_tokens", "output_tokens", "x"]),
            st.integers(-(2**65), 2**65) | st.floats(0, 10) | st.none(),
            max_size=2,
        )
        | _json,
        "segments": st.dictionaries(_short, _short | st.integers(), max_size=2) | _json,
        "attributes": st.dictionaries(_short, _json, max_size=2) | _json,
        "schema_version": st.integers(-(2**70), 2**70) | st.floats(0, 2),
        "source": st.sampled_from(["generic", "otel", "csv"]),
        "source_ref": st.none() | _short,
        "parent_id": st.none() | _short,
        "system_fingerprint": st.none() | _short,
        "fallback_idx": st.integers(0, 2),
    },
)
# raw number tokens that JSON encoders never write but files may hold
_NUMBERS = [b"0", b"-0", b"1.0", b"1e400", b"1E2", b"-1", b"0.1e-400", b"01", b"1.", b"2e+2",
            b"123456789012345678901234", b"9223372036854775807", b"18446744073709551616"]  # fmt: skip


@st.composite
def _lines(draw: st.DrawFn) -> bytes:
    d = draw(_step)
    # \u escapes or raw UTF-8, compact or spaced
    ascii_escapes = draw(st.booleans())
    seps = draw(st.sampled_from([(",", ":"), (", ", ": ")]))
    line = json.dumps(d, ensure_ascii=ascii_escapes, separators=seps).encode()
    op = draw(st.sampled_from(["none", "none", "none", "trunc", "insert", "delete", "dup", "num"]))
    if op == "trunc":
        line = line[: draw(st.integers(0, len(line)))]
    elif op == "insert":
        i = draw(st.integers(0, len(line)))
        b = draw(
            st.sampled_from(
                [b"\xff", b"\xc3", b"\\", b'"', b"\\x", b"\\ud800", b",", b" ", b"\x00"]
            )
        )
        line = line[:i] + b + line[i:]
    elif op == "delete" and line:
        i = draw(st.integers(0, len(line) - 1))
        line = line[:i] + line[i + 1 :]
    elif op == "dup":
        key = draw(st.sampled_from(list(d)))
        line = line[:-1] + b"," + json.dumps({key: d[key]}).encode()[1:]
    elif op == "num":
        field = draw(
            st.sampled_from(
                ["duration_ms", "fallback_index", "retry_count", "schema_version", "ttft_ms"]
            )
        )
        line = line[:-1] + b', "' + field.encode() + b'": ' + draw(st.sampled_from(_NUMBERS)) + b"}"
        if line.startswith(b"{,"):
            line = b"{" + line[2:]
    return line + b"\n"


def _bits(x: float) -> bytes:
    return np.float64(x).tobytes()


def _check_line(line: bytes, cfg: AuditConfig) -> str:
    """Differential check of one line; returns what the scanner did."""
    ctx = AuditContext(cfg)
    plan = native.build_plan(ctx)
    got = native._scan.scan(line, plan, 7)  # type: ignore[union-attr]
    if got is None:
        return "unreadable"
    tids, tcode, keys, kcode, dur, ts, sids, _, declined, flagged, pending = got
    if not tcode:
        assert not line.strip()
        return "blank"
    if declined:
        assert declined[0][:3] == (0, 0, len(line))
        return "declined"
    # accepted: the reference schema accepts the step ...
    step = Step.model_validate(orjson.loads(line))
    ref = step_facts(step.model_dump(), 7, AuditContext(cfg))
    # ... and the msgspec path gives the same facts
    row = ChunkAuditor(AuditContext(cfg)).row(line, partial(int, 0), 7, "x")
    assert row is not None
    tid, sid, rts, task, kind, label, rdur, special = row
    k = int(np.frombuffer(kcode, np.int64)[0])
    c_dur = float(np.frombuffer(dur, np.float64)[0])
    c_ts = float(np.frombuffer(ts, np.float64)[0])
    assert (tids[0], sids[:-1]) == (tid, sid)
    assert _bits(c_ts) == _bits(rts)
    assert keys[k] == (task or None, kind, label)
    assert (math.isnan(c_dur) and rdur is None) or _bits(c_dur) == _bits(float(rdur))  # type: ignore[arg-type]
    assert _bits(c_ts) == _bits(ref.ts)
    if pending:
        # C wrote the facts but for the tool checks it left to Python
        ((r, a, b, facts, simple, _, _),) = pending
        assert (r, a, b) == (0, 0, len(line))
        got_special: dict[int, StepFacts] = {}
        auditor = native.NativeChunkAuditor(AuditContext(cfg))
        assert auditor._tool_checks(line, pending, got_special) == []
        assert facts == tuple(ref)  # its flags now with the tool checks' after C's
        if special is not None:
            assert facts == tuple(special)
        # special when it has a flag or a simple one (ignored or not), as msgspec's path
        assert (0 in got_special) == bool(ref.flags or simple)
        return "pending"
    if flagged:
        ((r, facts),) = flagged
        assert r == 0
        assert facts == tuple(ref)
        assert special is not None
        assert facts == tuple(special)
        return "flagged"
    assert ref.flags == []
    assert not ref.error
    assert special is None or (special.flags == [] and special.eligible == ref.eligible)
    return "accepted"


@SETTINGS
@given(line=_lines(), which=st.sampled_from([0, 1]))
def test_every_line_the_scanner_accepts_gives_the_reference_facts(line: bytes, which: int) -> None:
    _check_line(line, CONFIGS[which])


@pytest.mark.parametrize("cfg", CONFIGS)
def test_the_fuzz_reaches_every_outcome(cfg: AuditConfig) -> None:
    # the generator is not so wild that the scanner only ever declines
    seen: set[str] = set()
    base = {"trace_id": "t", "step_id": "s", "duration_ms": 1.5}
    for d in (
        base,
        {**base, "retry_count": 2},
        {**base, "kind": "robot"},
        {
            **base,
            "kind": "tool",
            "tool_name": "search_kb",
            "tool_arguments": '{"query":"q"}',
            "tool_result": {"hits": ["a"]},
        },
        {**base, "kind": "tool", "tool_name": "search_kb", "tool_arguments": '{"query":""}'},
    ):
        seen.add(_check_line(orjson.dumps(d) + b"\n", cfg))
    seen.add(_check_line(b"\n", cfg))
    seen.add(_check_line(b'{"trace_id": \n', cfg))
    assert seen == {"accepted", "flagged", "pending", "declined", "blank", "unreadable"}


def _chunk(auditor: ChunkAuditor, data: bytes) -> ChunkFacts | str:
    try:
        return auditor.run(data, 100, 5 << 40, "x")
    except InputError as exc:
        return str(exc)


@SETTINGS
@given(lines=st.lists(_lines(), min_size=1, max_size=12), which=st.sampled_from([0, 1]))
def test_chunks_give_the_msgspec_paths_facts(lines: list[bytes], which: int) -> None:
    _same_chunk_facts(b"".join(lines), CONFIGS[which])


def _same_chunk_facts(data: bytes, cfg: AuditConfig) -> None:
    got = _chunk(native.NativeChunkAuditor(AuditContext(cfg)), data)
    want = _chunk(ChunkAuditor(AuditContext(cfg)), data)
    if isinstance(want, str) or isinstance(got, str):
        assert got == want
        return
    assert got.trace_ids == want.trace_ids
    assert got.tcode.tolist() == want.tcode.tolist()
    assert [got.keys[k] for k in got.kcode] == [want.keys[k] for k in want.kcode]
    assert _bits_all(got.dur) == _bits_all(want.dur)
    assert _bits_all(got.ts) == _bits_all(want.ts)
    assert got.step_ids == want.step_ids
    # rows the msgspec screen sent to the reference function without finding a flag may
    # be proven clean in C (no facts kept); every other row's facts are identical
    for r in set(got.special) | set(want.special):
        a, b = got.special.get(r), want.special.get(r)
        if a is None or b is None:
            f = a or b
            assert f is not None
            assert f[10] == []
            assert not f[9]
            assert f[8] == (not math.isnan(float(got.dur[r])))
        else:
            assert a == b
    # the verdicts of the flagged traces: C's (fewer special rows) are the msgspec path's
    got_v = dict(zip(got.flagged[0], zip(got.flagged[1], got.flagged[2], strict=True), strict=True))
    want_v = dict(
        zip(want.flagged[0], zip(want.flagged[1], want.flagged[2], strict=True), strict=True)
    )
    assert got_v.keys() <= want_v.keys()
    for t, v in got_v.items():
        assert v == want_v[t]
    for t in set(want_v) - set(got_v):
        assert want_v[t] == (0, 0)  # clean: its special rows carry no flag
    assert got.fails == want.fails


# steps that are valid but for their tool calls, tool arguments and results: the lines
# whose tool checks C leaves to Python (and some it declines or proves)
_tool_call = st.fixed_dictionaries(
    {"function": st.fixed_dictionaries({"name": _names}, optional={"arguments": _args})}
)
_tool_step = st.fixed_dictionaries(
    {"kind": st.just("tool"), "tool_name": _names},
    optional={"tool_arguments": st.none() | _args, "tool_result": _results},
)
# definitions with valid parameter schemas (one that is not a schema, e.g. 0, fails the
# reference's own audit with a TypeError when a call needs it)
_valid_defs = st.lists(
    st.fixed_dictionaries(
        {"type": st.just("function")},
        optional={
            "function": st.fixed_dictionaries(
                {"name": _names},
                optional={"parameters": st.sampled_from([{}, {"type": "object"}, True])},
            )
        },
    ),
    max_size=2,
)
_llm_step = st.fixed_dictionaries(
    {"output_message": st.fixed_dictionaries({"tool_calls": st.lists(_tool_call, max_size=4)})},
    optional={"tool_definitions": _valid_defs},
)
_simple = st.fixed_dictionaries(
    {"trace_id": st.sampled_from(["t1", "t2"]), "step_id": st.sampled_from(["a", "b"])},
    optional={
        "duration_ms": st.sampled_from([1.5, 0, None]),
        "retry_count": st.integers(0, 2),
        "status": st.sampled_from(["ok", "error"]),
        "cache_hit": st.booleans(),
        "model_requested": st.sampled_from(["gpt-4o", "x"]),
        "model_served": st.sampled_from(["GPT-4o-mini", "gpt-4o"]),
    },
)
_tool_lines = st.builds(
    lambda base, tool, ascii_escapes: (
        json.dumps({**base, **tool}, ensure_ascii=ascii_escapes).encode() + b"\n"
    ),
    _simple,
    _tool_step | _llm_step,
    st.booleans(),
)
TOOL_CONFIGS = [
    *CONFIGS,
    AuditConfig(tool_schemas=TOOLS, result_schemas=RESULT_SCHEMAS, ignore=["tool_args_invalid"]),
    AuditConfig(tool_schemas=TOOLS, result_schemas=RESULT_SCHEMAS, ground_truth={"a": None}),
]


@SETTINGS
@given(line=_tool_lines, which=st.sampled_from(range(len(TOOL_CONFIGS))))
def test_lines_with_tool_checks_give_the_reference_facts(line: bytes, which: int) -> None:
    _check_line(line, TOOL_CONFIGS[which])


@SETTINGS
@given(
    lines=st.lists(_tool_lines, min_size=1, max_size=8),
    which=st.sampled_from(range(len(TOOL_CONFIGS))),
)
def test_chunks_with_tool_checks_give_the_msgspec_paths_facts(
    lines: list[bytes], which: int
) -> None:
    _same_chunk_facts(b"".join(lines), TOOL_CONFIGS[which])


def _bits_all(a: np.ndarray) -> bytes:
    return np.asarray(a, np.float64).tobytes()


_PATTERNS = [
    r"^C[0-9]{6}$",
    r"^[a-z]+-?[0-9]*$",
    r"ab+c",
    r"^\d{2,4}\.x$",
    r"[^a]b?$",
    r"^.$",
    r"\w+@\w+\.com",
    r"^[A-Fa-f0-9-]{3,}",
    r"x{0}y",
]


def _check_pattern(pattern: str, value: str) -> str:
    """How the scanner takes a tool step whose one argument ``s`` must match ``pattern``."""
    schema = {"type": "object", "properties": {"s": {"type": "string", "pattern": pattern}}}
    line = orjson.dumps(
        {
            "trace_id": "t",
            "step_id": "s",
            "kind": "tool",
            "tool_name": "f",
            "tool_arguments": json.dumps({"s": value}),
        }
    )
    return _check_line(line + b"\n", AuditConfig(tool_schemas={"f": schema}))


@SETTINGS
@given(
    pattern=st.sampled_from(_PATTERNS),
    value=st.text(alphabet=st.sampled_from("abcC0123456789-.@xyA_é\n"), max_size=9),
)
def test_a_pattern_the_scanner_matches_is_matched_by_re_search(pattern: str, value: str) -> None:
    outcome = _check_pattern(pattern, value)
    if outcome == "accepted":
        assert re.search(pattern, value) is not None


@pytest.mark.parametrize(
    ("pattern", "value"),
    [(r"^C[0-9]{6}$", "C000123"), (r"ab+c", "xxabbbc"), (r"[^a]b?$", "ab"), (r"^.$", "é")],
)
def test_supported_patterns_are_proven_in_c(pattern: str, value: str) -> None:
    # not vacuous: matching ASCII values are accepted without the Python path (C
    # matches ASCII only: the reference checks the others)
    want = "pending" if not value.isascii() else "accepted"
    assert _check_pattern(pattern, value) == want


@pytest.mark.parametrize(
    "pattern", ["(a|b)", "a|b", "a{2,1}", "[[:alpha:]]", "é", "a*?", r"\s", "a{"]
)
def test_other_patterns_get_no_plan(pattern: str) -> None:
    assert native.pattern_plan(pattern) is None
