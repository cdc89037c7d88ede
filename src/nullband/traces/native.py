"""The fast engine's native per-chunk step: a C scanner in front of the msgspec path.

The C extension (``_scan.c``) reads a chunk of generic JSONL and, per line, validates
the JSON strictly and types the step as :class:`~nullband.traces.msgstep.AuditedStep`
types it. A line is *accepted* only when it is proven to be a valid step that carries
no flag (no fallback, retry, cache hit, error or model difference; tool arguments and
results proven valid by a plan compiled here from the same msgspec types
:mod:`nullband.traces.msgschema` builds); then C writes its compact facts (trace code in
first-seen order, timing key, duration, start time, step id). C also writes the
reference's facts of a step whose only flags are those simple ones, and of a step that
is otherwise proven but for tool arguments or a tool result its plan cannot prove valid
(*pending*): for those, the reference's own tool checks run here on just those values,
and their flags follow C's. Every other line is *declined* and goes through
:meth:`ChunkAuditor.row` unchanged, so flags, messages and byte offsets stay the
reference's. A chunk whose declined line has no readable trace or step id goes to the
Python path whole.

Without the extension the engine uses the Python path with a warning; with
``NULLBAND_REQUIRE_NATIVE=1`` a missing extension is an error.
"""

from __future__ import annotations

import os
import warnings
from functools import partial
from types import ModuleType
from typing import Any

import msgspec
import msgspec.inspect as mi
import numpy as np
import orjson

from nullband.errors import NullbandError
from nullband.traces.audit import AuditContext, StepFacts, _check_calls, _check_tool_step
from nullband.traces.msgaudit import ChunkAuditor, ChunkFacts, pack
from nullband.traces.msgschema import accept_type

_scan: ModuleType | None
try:
    from nullband.traces import _scan  # type: ignore[attr-defined,no-redef,unused-ignore]
except ImportError:  # pragma: no cover - depends on the build
    _scan = None

Node = tuple[Any, ...]
_NEVER: Node = ("never",)
_I64 = 2**63 - 1
_decode_any = msgspec.json.Decoder().decode
"""Tool arguments as the msgspec path decodes them (its ``Any`` fields)."""


class NativeMissingError(NullbandError):
    """The C scanner is required (NULLBAND_REQUIRE_NATIVE=1) but not built."""


def native_available() -> bool:
    """The C scanner is importable; raises when it is required and missing.

    Raises:
        NativeMissingError: ``NULLBAND_REQUIRE_NATIVE=1`` is set and the extension is
            not built.
    """
    if _scan is not None:
        return True
    if os.environ.get("NULLBAND_REQUIRE_NATIVE") == "1":
        raise NativeMissingError(
            "the fast engine's C scanner (nullband.traces._scan) is not built",
            hint="reinstall with a C compiler (pip install -e .) or unset NULLBAND_REQUIRE_NATIVE",
        )
    warnings.warn(
        "nullband.traces._scan is not built; the fast engine uses its slower Python path",
        RuntimeWarning,
        stacklevel=2,
    )
    return False


def _bound(v: Any, integer: bool) -> Any:
    """A numeric bound as C compares it, or raise ValueError when C cannot be exact."""
    if v is None:
        return None
    if integer:
        if not isinstance(v, int) or not -_I64 <= v <= _I64:
            raise ValueError(v)
        return v
    if isinstance(v, int) and abs(v) > 2**53:
        raise ValueError(v)
    return float(v)


def node(t: Any) -> Node:
    """The C plan of a msgspec type (its :func:`msgspec.inspect.type_info`).

    Unsupported types give ``("never",)``: C declines every value there.
    """
    try:
        return _node(t)
    except ValueError:
        return _NEVER


def _node(t: Any) -> Node:
    if isinstance(t, mi.AnyType):
        return ("any",)
    if isinstance(t, mi.NoneType):
        return ("null",)
    if isinstance(t, mi.BoolType):
        return ("bool",)
    if isinstance(t, mi.StrType):
        if t.pattern is None:
            return ("str", t.min_length, t.max_length, None)
        pat = pattern_plan(t.pattern)
        return _NEVER if pat is None else ("str", t.min_length, t.max_length, pat)
    if isinstance(t, mi.IntType | mi.FloatType):
        if t.multiple_of is not None:
            return _NEVER
        integer = isinstance(t, mi.IntType)
        bounds = tuple(_bound(b, integer) for b in (t.ge, t.le, t.gt, t.lt))
        return ("int" if integer else "float", *bounds)
    if isinstance(t, mi.ListType):
        return ("list", _node(t.item_type), t.min_length, t.max_length)
    if isinstance(t, mi.StructType):
        if t.array_like or t.tag_field is not None:
            return _NEVER
        fields = tuple((f.encode_name.encode(), f.required, _node(f.type)) for f in t.fields)
        return ("obj", t.forbid_unknown_fields, fields)
    if isinstance(t, mi.DictType):
        key = t.key_type
        plain = isinstance(key, mi.StrType) and key == mi.StrType()
        return ("dict",) if plain and isinstance(t.value_type, mi.AnyType) else _NEVER
    if isinstance(t, mi.LiteralType):
        if not all(isinstance(v, str) for v in t.values):
            return _NEVER
        return ("enum", tuple(_encode(v) for v in t.values if isinstance(v, str)))
    if isinstance(t, mi.UnionType):
        others = [u for u in t.types if not isinstance(u, mi.NoneType)]
        if len(others) == 1 and len(t.types) == 2:
            return ("opt", _node(others[0]))
    return _NEVER


_WORD = set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_DIGIT = set(b"0123456789")
_PUNCT = set(b".-+*?()[]{}|^$\\/")


def _charset(chars: set[int], negate: bool = False) -> bytes:
    bits = bytearray(16)
    for c in range(128):
        if (c in chars) != negate:
            bits[c >> 3] |= 1 << (c & 7)
    return bytes(bits)


def _escape(p: str, i: int) -> tuple[set[int], int] | None:
    """The characters of the escape at p[i] (after the backslash), or None."""
    if i >= len(p):
        return None
    ch = p[i]
    if ch == "d":
        return _DIGIT, i + 1
    if ch == "w":
        return _WORD, i + 1
    if ord(ch) < 128 and ord(ch) in _PUNCT:
        return {ord(ch)}, i + 1
    return None


def _class(p: str, i: int) -> tuple[bytes, int] | None:
    """The character class starting after "[" at p[i], or None."""
    negate = i < len(p) and p[i] == "^"
    i += negate
    chars: set[int] = set()
    first = True
    while i < len(p):
        ch = p[i]
        if ch == "]" and not first:
            return _charset(chars, negate), i + 1
        first = False
        if ch == "[" or ch == "]" or ord(ch) >= 128 or not ch.isprintable():
            return None
        if ch == "\\":
            got = _escape(p, i + 1)
            if got is None:
                return None
            chars |= got[0]
            i = got[1]
            continue
        if i + 2 < len(p) and p[i + 1] == "-" and p[i + 2] not in "]\\[":
            lo, hi = ord(ch), ord(p[i + 2])
            if lo > hi or hi >= 128:
                return None
            chars |= set(range(lo, hi + 1))
            i += 3
            continue
        chars.add(ord(ch))
        i += 1
    return None


def _quantifier(p: str, i: int) -> tuple[int, int | None, int] | None:
    """(min, max or None, next index) of the quantifier at p[i] ((1, 1, i) if none)."""
    if i >= len(p) or p[i] not in "*+?{":
        return 1, 1, i
    ch = p[i]
    if ch == "{":
        close = p.find("}", i)
        if close < 0:
            return None
        parts = p[i + 1 : close].split(",")
        if len(parts) > 2 or not all(x.isascii() and x.isdigit() for x in parts if x):
            return None
        if not parts[0]:
            return None
        lo = int(parts[0])
        hi = lo if len(parts) == 1 else (int(parts[1]) if parts[1] else None)
        if hi is not None and hi < lo:
            return None
        nxt = close + 1
    else:
        lo, hi = {"*": (0, None), "+": (1, None), "?": (0, 1)}[ch]
        nxt = i + 1
    if nxt < len(p) and p[nxt] in "?+*{":
        return None  # lazy, possessive or stacked quantifiers: not handled here
    return lo, hi, nxt


def pattern_plan(p: str) -> tuple[bool, bool, tuple[tuple[bytes, int, int | None], ...]] | None:
    """A regular expression as (anchored at start, anchored at end, atoms) for C, where
    each atom is (ASCII character set, min, max repetitions); None when the pattern uses
    anything else (groups, alternation, other escapes, non-ASCII). C matches only ASCII
    strings without escapes against it, with :func:`re.search` semantics."""
    start = p.startswith("^")
    i = int(start)
    end = False
    atoms: list[tuple[bytes, int, int | None]] = []
    while i < len(p):
        ch = p[i]
        if ch == "$" and i == len(p) - 1:
            end = True
            break
        if ch == "[":
            got = _class(p, i + 1)
            if got is None:
                return None
            chars, i = got
        elif ch == "\\":
            esc = _escape(p, i + 1)
            if esc is None:
                return None
            chars, i = _charset(esc[0]), esc[1]
        elif ch == ".":
            chars, i = _charset({10}, negate=True), i + 1
        elif ord(ch) >= 128 or not ch.isprintable() or ord(ch) in _PUNCT:
            return None
        else:
            chars, i = _charset({ord(ch)}), i + 1
        q = _quantifier(p, i)
        if q is None:
            return None
        lo, hi, i = q
        atoms.append((chars, lo, hi))
    return start, end, tuple(atoms)


def _encode(name: str) -> bytes:
    return name.encode("utf-8", "surrogatepass")


def _plan_of(schema: Any) -> Node:
    ty = accept_type(schema)
    return _NEVER if ty is None else node(mi.type_info(ty))


def build_plan(ctx: AuditContext) -> Any:
    """The C scanner's plan of an audit configuration."""
    assert _scan is not None
    tools = tuple((_encode(n), _plan_of(c.schema)) for n, c in ctx.tool.items())
    results = tuple((_encode(n), _plan_of(c.schema)) for n, c in ctx.result.items())
    pinned = tuple((_encode(k), _encode(v)) for k, v in ctx.pinned.items())
    ignore = tuple(_encode(code) for code in ctx.ignore)
    return _scan.Plan(tools, results, pinned, ignore, not ctx.config.ground_truth)


class NativeChunkAuditor(ChunkAuditor):
    """A :class:`ChunkAuditor` whose lines go through the C scanner first."""

    def __init__(self, ctx: AuditContext) -> None:
        super().__init__(ctx)
        self._plan = build_plan(ctx)
        self.declined = 0
        """Lines the scanner declined so far (diagnostics)."""
        self.pending = 0
        """Lines the scanner left tool checks of to Python so far (diagnostics)."""

    def _tool_checks(
        self, data: bytes | memoryview, pending: list[Any], special: dict[int, StepFacts]
    ) -> list[tuple[int, int, int, str, str]]:
        """The tool flags of the lines C left checks of (see ``_scan.c``), after their
        simple flags, into ``special``; returns the lines to audit as declined instead
        (a value that does not decode here).

        Each check runs the reference's own rule on the values the reference would
        give it: a tool step's tool name, arguments (None where C proved them valid, so
        not checked) and result; an llm step's calls whose arguments C could not prove
        valid, in call order (the other calls raise no flag: their tools are configured
        and their arguments proven, or unconfigured and the step offers no tools).
        """
        ctx = self.ctx
        ignore = ctx.ignore
        self.pending += len(pending)
        redo = []
        for row, a, b, f, simple, kind, checks in pending:
            facts = StepFacts._make(f)
            out: list[tuple[str, str]] = []
            try:
                if kind == 1:  # a tool step
                    name, a0, a1, r0, r1 = checks[0]
                    step = {
                        "tool_name": name,
                        "tool_arguments": None if a0 < 0 else _decode_any(data[a0:a1]),
                        "tool_result": None if r0 < 0 else orjson.loads(data[r0:r1]),
                    }
                    _check_tool_step(step, ctx, out)
                else:
                    calls = [
                        # the reference reads a call without "arguments" as "{}"
                        {
                            "function": {
                                "name": n,
                                "arguments": "{}" if a0 < 0 else _decode_any(data[a0:a1]),
                            }
                        }
                        for n, a0, a1, _, _ in checks
                    ]
                    _check_calls({"output_message": {"tool_calls": calls}}, ctx, out)
            except (msgspec.DecodeError, orjson.JSONDecodeError):
                redo.append((row, a, b, facts.trace_id, facts.step_id))
                continue
            if out and ignore:
                out = [fl for fl in out if fl[0] not in ignore]
            if out:
                facts.flags.extend(out)
            if facts.flags or simple:
                # a simple flag (even ignored) makes the row special, as in the
                # msgspec path; a row whose checks found nothing is not
                special[row] = facts
        return redo

    def run(self, data: bytes | memoryview, start: int, first_idx: int, path: str) -> ChunkFacts:
        """Facts of the lines in ``data`` (the bytes at offset ``start`` of ``path``)."""
        assert _scan is not None
        got = _scan.scan(data, self._plan, first_idx)
        if got is None:
            return super().run(bytes(data), start, first_idx, path)
        tids, tcode_b, keys, kcode_b, dur_b, ts_b, sids, soff_b, declined, flagged, pending = got
        tcode = np.frombuffer(tcode_b, np.int64)
        kcode = np.frombuffer(kcode_b, np.int64)
        dur = np.frombuffer(dur_b, np.float64)
        ts = np.frombuffer(ts_b, np.float64)
        soff = np.frombuffer(soff_b, np.int64)
        # steps with flags that need no tool check: C wrote the reference's facts
        special = {row: StepFacts._make(f) for row, f in flagged}
        if pending:
            redo = self._tool_checks(data, pending, special)
            if redo:
                declined = sorted(declined + redo)
        self.declined += len(declined)
        if declined:
            kmap = {k: i for i, k in enumerate(keys)}
            row_facts = self.row
            for row, a, b, tid, sid in declined:
                f = row_facts(bytes(data[a:b]), partial(int, start + a), first_idx + row, path)
                if f is None or f[0] != tid or f[1] != sid:
                    # the scanner read the line differently (e.g. a duplicate key)
                    return super().run(bytes(data), start, first_idx, path)
                key = (f[3] or None, f[4], f[5])
                k = kmap.get(key)
                if k is None:
                    k = kmap[key] = len(kmap)
                    keys.append(key)
                kcode[row] = k
                d = f[6]
                dur[row] = np.nan if d is None else d
                ts[row] = f[2]
                if f[7] is not None:
                    special[row] = f[7]
        return pack(
            self.ctx, first_idx, tids, tcode, keys, kcode, dur, ts, sids[:-1], special, soff
        )


def make_auditor(ctx: AuditContext, native: bool | None = None) -> ChunkAuditor:
    """The chunk auditor: native when built (or when ``native`` is True), else Python."""
    if native is None:
        native = native_available()
    if native and _scan is None:
        raise NativeMissingError(
            "the native scanner was asked for but nullband.traces._scan is not built",
            hint="reinstall with a C compiler (pip install -e .)",
        )
    return NativeChunkAuditor(ctx) if native else ChunkAuditor(ctx)


__all__ = [
    "NativeChunkAuditor",
    "NativeMissingError",
    "build_plan",
    "make_auditor",
    "native_available",
    "node",
    "pattern_plan",
]
