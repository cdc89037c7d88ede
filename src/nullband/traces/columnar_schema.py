"""JSON Schema checks compiled to polars expressions that only *accept*.

The columnar audit engine checks tool arguments and results as columns of JSON text.
:func:`accept_expr` turns a flat object schema (properties of scalar types or arrays of
scalars; type, enum, const, numeric bounds, lengths, pattern, items, required,
additionalProperties) into an expression that is true only where the text is certainly
a valid instance: a JSON object whose strings hold no escapes, whose numbers are short
and plain, and whose members pass every keyword. Everything else (false or null) goes
to the per-row Python check (:class:`nullband.traces.validate.SchemaCheck`), which gives
the verdict and the message. So an accepted row is one that check would pass too, and
every flag is still jsonschema's.
"""

from __future__ import annotations

import re
from typing import Any

import polars as pl

_W = r"[ \t\r\n]*"  # JSON whitespace only (\s would accept more than JSON does)
_STR = r'"[^"\\\x00-\x1f]*"'  # a string without escapes or control characters
_NUM = r"-?(?:0|[1-9][0-9]{0,14})(?:\.[0-9]{1,15})?"  # short plain numbers: floats compare exactly
_INT = r"-?(?:0|[1-9][0-9]{0,14})"
_SCALAR = f"(?:{_STR}|{_NUM}|true|false|null)"
_ARRAY = rf"\[{_W}(?:{_SCALAR}(?:{_W},{_W}{_SCALAR})*)?{_W}\]"
_VALUE = f"(?:{_SCALAR}|{_ARRAY})"
_ANNOTATIONS = {"title", "description", "default", "examples", "$schema", "$id", "$comment"}
_SCALAR_KEYS = _ANNOTATIONS | {
    "type",
    "enum",
    "const",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
}
_PROP_KEYS = _SCALAR_KEYS | {"items", "minItems", "maxItems"}
_OBJECT_KEYS = _ANNOTATIONS | {"type", "properties", "required", "additionalProperties"}
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
_SAFE_PATTERN = re.compile(r"^[A-Za-z0-9 ^$\[\]{},.*+?|()_:/@=#-]*$")
_TYPE_RX = {
    "string": '^"',
    "number": f"^{_NUM}$",
    "integer": f"^{_INT}$",
    "boolean": "^(?:true|false)$",
    "null": "^null$",
    "array": r"^\[",
}


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _value_check(v: pl.Expr, schema: dict[str, Any]) -> pl.Expr | None:
    """True where the JSON text ``v`` (a scalar or an array of scalars) is valid."""
    if not isinstance(schema, dict) or set(schema) - _PROP_KEYS:
        return None
    checks: list[pl.Expr] = []
    t = schema.get("type")
    if t is not None:
        names = [t] if isinstance(t, str) else t
        if not isinstance(names, list) or any(n not in _TYPE_RX for n in names):
            return None
        checks.append(pl.any_horizontal(*[v.str.contains(_TYPE_RX[n]) for n in names]))
    for key in ("enum", "const"):
        if key in schema:
            allowed = schema["enum"] if key == "enum" else [schema["const"]]
            if not isinstance(allowed, list):
                return None
            texts = []
            for a in allowed:
                if a is None:
                    texts.append("null")
                elif isinstance(a, str) and _SAFE_NAME.match(a):
                    texts.append(f'"{a}"')
                else:
                    return None  # other enum values: the Python check decides
            checks.append(v.is_in(texts))
    is_num = v.str.contains(f"^{_NUM}$")
    num = v.cast(pl.Float64, strict=False)
    for key, op in (
        ("minimum", "ge"),
        ("maximum", "le"),
        ("exclusiveMinimum", "gt"),
        ("exclusiveMaximum", "lt"),
    ):
        if key in schema:
            b = schema[key]
            if not _is_number(b):
                return None
            cmp = getattr(num, op)(float(b))
            # bounds apply to numbers only; any other number text (exponents, long) is refused
            checks.append(pl.when(is_num).then(cmp).otherwise(~v.str.contains(r"^[-0-9]")))
    is_str = v.str.starts_with('"')
    if "minLength" in schema or "maxLength" in schema:
        n = v.str.len_chars() - 2
        lo, hi = schema.get("minLength", 0), schema.get("maxLength")
        if not isinstance(lo, int) or not (hi is None or isinstance(hi, int)):
            return None
        ok = n >= lo if hi is None else (n >= lo) & (n <= hi)
        checks.append(pl.when(is_str).then(ok).otherwise(True))
    if "pattern" in schema:
        pat = schema["pattern"]
        if not isinstance(pat, str) or not _SAFE_PATTERN.match(pat):
            return None
        inner = v.str.slice(1, v.str.len_chars() - 2)
        checks.append(pl.when(is_str).then(inner.str.contains(pat)).otherwise(True))
    if "items" in schema or "minItems" in schema or "maxItems" in schema:
        items = v.str.extract_all(_SCALAR)
        is_arr = v.str.starts_with("[")
        if "items" in schema:
            sub = _value_check(pl.element(), schema["items"])
            if sub is None or set(schema["items"]) - _SCALAR_KEYS:
                return None
            checks.append(pl.when(is_arr).then(items.list.eval(sub).list.all()).otherwise(True))
        lo, hi = schema.get("minItems", 0), schema.get("maxItems")
        if not isinstance(lo, int) or not (hi is None or isinstance(hi, int)):
            return None
        n = items.list.len()
        ok = n >= lo if hi is None else (n >= lo) & (n <= hi)
        checks.append(pl.when(is_arr).then(ok).otherwise(True))
    if not checks:
        return pl.lit(True)
    return pl.all_horizontal(*checks)


def accept_expr(col: pl.Expr, schema: Any) -> pl.Expr | None:
    """An expression true only where JSON text ``col`` is certainly valid under ``schema``.

    None when the schema is outside the subset (every row then goes to Python).
    """
    if not isinstance(schema, dict) or set(schema) - _OBJECT_KEYS:
        return None
    if schema.get("type") != "object":
        return None
    props = schema.get("properties", {})
    required = schema.get("required", [])
    extra = schema.get("additionalProperties", True)
    if not isinstance(props, dict) or not isinstance(required, list) or extra not in (True, False):
        return None
    names = list(props)
    if any(not isinstance(n, str) or not _SAFE_NAME.match(n) for n in [*names, *required]):
        return None
    if any(r not in props for r in required):
        return None
    key = f'"(?:{"|".join(re.escape(n) for n in names)})"' if extra is False else _STR
    if extra is False and not names:
        key = "(?!)"
    member = f"{key}{_W}:{_W}{_VALUE}"
    shape = rf"^{_W}\{{{_W}(?:{member}(?:{_W},{_W}{member})*)?{_W}\}}{_W}$"
    if extra is False and not names:
        shape = rf"^{_W}\{{{_W}\}}{_W}$"
    checks = [col.str.contains(shape)]
    for name in names:
        # strings hold no quotes here, so '"name":' occurs only as a member name
        count = col.str.count_matches(f'"{re.escape(name)}"{_W}:')
        value = col.str.extract(rf'"{re.escape(name)}"{_W}:{_W}({_VALUE})', 1)
        sub = _value_check(value, props[name])
        if sub is None:
            return None
        checks.append((count == 1) if name in required else (count <= 1))
        checks.append(pl.when(count == 1).then(sub).otherwise(True))
    return pl.all_horizontal(*checks).fill_null(False)
