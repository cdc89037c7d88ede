"""JSON Schema checks for tool arguments and results, fast on the common path.

``jsonschema`` takes about 30 us per small object here, which dominates an audit of a
million spans. :func:`compile_schema` turns the subset of JSON Schema that tool
definitions use (type, properties, required, additionalProperties, enum, const, numeric
and length bounds, pattern, items) into nested Python closures that only *accept*; a
value they reject, and any schema using other keywords, goes to ``jsonschema`` itself,
which gives the verdict and the message. So the verdict is always jsonschema's; the
closures only skip work on valid values (tests check agreement on random values).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import jsonschema
import orjson

Check = Callable[[Any], bool]

_ANNOTATIONS = {"title", "description", "default", "examples", "$schema", "$id", "$comment"}
_SUPPORTED = _ANNOTATIONS | {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "enum",
    "const",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "items",
    "minItems",
    "maxItems",
}


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


_TYPES: dict[str, Check] = {
    "string": lambda v: isinstance(v, str),
    "number": _is_number,
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, float) and v.is_integer())
    ),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


def _scalar_enum(values: list[Any]) -> bool:
    return all(isinstance(v, str) or v is None for v in values)


def _any_type(fns: list[Check]) -> Check:
    return lambda v: any(f(v) for f in fns)


def _in_enum(strs: frozenset[str], none_ok: bool) -> Check:
    return lambda v: (isinstance(v, str) and v in strs) or (v is None and none_ok)


def _bound(key: str, b: float) -> Check:
    if key == "minimum":
        return lambda v: not _is_number(v) or v >= b
    if key == "maximum":
        return lambda v: not _is_number(v) or v <= b
    if key == "exclusiveMinimum":
        return lambda v: not _is_number(v) or v > b
    return lambda v: not _is_number(v) or v < b


def _length(kind: type[str] | type[list[Any]], lo: int, hi: int | None) -> Check:
    return lambda v: not isinstance(v, kind) or (len(v) >= lo and (hi is None or len(v) <= hi))


def _pattern(rx: re.Pattern[str]) -> Check:
    return lambda v: not isinstance(v, str) or rx.search(v) is not None


def _items(f: Check) -> Check:
    return lambda v: not isinstance(v, list) or all(f(x) for x in v)


def _always(v: Any) -> bool:
    return True


def _never(v: Any) -> bool:
    return False


def _object(compiled: dict[str, Check], required: list[str], extra: Check | None) -> Check:
    def check(v: Any) -> bool:
        if not isinstance(v, dict):
            return True
        for r in required:
            if r not in v:
                return False
        for k, x in v.items():
            c = compiled.get(k)
            if c is not None:
                if not c(x):
                    return False
            elif extra is not None and not extra(x):
                return False
        return True

    return check


def _all(checks: list[Check]) -> Check:
    if len(checks) == 2:
        a, b = checks
        return lambda v: a(v) and b(v)
    return lambda v: all(c(v) for c in checks)


def compile_schema(schema: Any) -> Check | None:
    """A closure accepting values valid under ``schema``, or None if the subset can't say."""
    if schema is True or schema == {}:
        return _always
    if not isinstance(schema, dict) or set(schema) - _SUPPORTED:
        return None
    checks: list[Check] = []
    t = schema.get("type")
    if t is not None:
        names = [t] if isinstance(t, str) else t
        if not isinstance(names, list) or any(n not in _TYPES for n in names):
            return None
        checks.append(_any_type([_TYPES[n] for n in names]))
    for key in ("enum", "const"):
        if key in schema:
            allowed = schema["enum"] if key == "enum" else [schema["const"]]
            if not isinstance(allowed, list) or not _scalar_enum(allowed):
                return None
            checks.append(
                _in_enum(frozenset(a for a in allowed if isinstance(a, str)), None in allowed)
            )
    for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        if key in schema:
            if not _is_number(schema[key]):
                return None
            checks.append(_bound(key, schema[key]))
    if "minLength" in schema or "maxLength" in schema:
        checks.append(_length(str, schema.get("minLength", 0), schema.get("maxLength")))
    if "pattern" in schema:
        try:
            checks.append(_pattern(re.compile(schema["pattern"])))
        except (re.error, TypeError):
            return None
    if "items" in schema:
        item = compile_schema(schema["items"])
        if item is None:
            return None
        checks.append(_items(item))
    if "minItems" in schema or "maxItems" in schema:
        checks.append(_length(list, schema.get("minItems", 0), schema.get("maxItems")))
    props = schema.get("properties", {})
    if not isinstance(props, dict):
        return None
    compiled: dict[str, Check] = {}
    for name, sub in props.items():
        c = compile_schema(sub)
        if c is None:
            return None
        compiled[name] = c
    required = schema.get("required", [])
    extra = schema.get("additionalProperties", True)
    extra_check: Check | None
    if extra is True:
        extra_check = None
    elif extra is False:
        extra_check = _never
    else:
        extra_check = compile_schema(extra)
        if extra_check is None:
            return None
    if compiled or required or extra_check is not None:
        checks.append(_object(compiled, list(required), extra_check))
    if not checks:
        return _always
    return checks[0] if len(checks) == 1 else _all(checks)


_OBJECT_KEYS = {"type", "properties", "required", "additionalProperties"}
_MISS = object()


_PROBLEMS: dict[bytes, str | None] = {}
"""Meta-schema verdicts by schema text: a configuration's schemas are checked when it is
validated and again when they are compiled (and a worker inherits the parent's)."""


def schema_problem(schema: Any) -> str | None:
    """Why ``schema`` is not a usable JSON Schema (an object or a boolean, valid under its
    draft's meta-schema), or None when it is."""
    if isinstance(schema, bool):
        return None
    if not isinstance(schema, dict):
        return f"not a JSON Schema (an object or true/false): {orjson.dumps(schema).decode()[:80]}"
    try:
        key: bytes | None = orjson.dumps(schema, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # keys or values JSON has not (from YAML): checked, not remembered
        key = None
    if key in _PROBLEMS:
        return _PROBLEMS[key]
    problem = None
    try:
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = "".join(f"[{p!r}]" for p in exc.path)
        problem = f"not a valid JSON Schema: {exc.message}" + (f" at {where}" if where else "")
    if key is not None:
        if len(_PROBLEMS) > 10_000:
            _PROBLEMS.clear()
        _PROBLEMS[key] = problem
    return problem


class SchemaCheck:
    """Checks values against one JSON Schema; :meth:`error` returns None when valid.

    Raises:
        ValueError: ``schema`` is not a usable JSON Schema (:func:`schema_problem`).
    """

    def __init__(self, schema: Any) -> None:
        self.schema = schema
        problem = schema_problem(schema)
        if problem is not None:
            raise ValueError(problem)
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        self._validator = cls(schema)
        self._fast = compile_schema(schema)
        self._props: dict[str, tuple[Check, Any]] | None = None
        """For a plain object schema (type, properties, required, additionalProperties,
        every part compiled): property -> (its compiled check, its own validator)."""
        self._extra: Check | None = None
        """A plain object schema's check of a property it does not name (None: such a
        property is an error)."""
        self._leaf: dict[tuple[str, bytes], str | None] = {}
        if (
            self._fast is not None
            and isinstance(schema, dict)
            and not set(schema) - _ANNOTATIONS - _OBJECT_KEYS
            and schema.get("type") == "object"
            and isinstance(schema.get("properties", {}), dict)
        ):
            self._props = {
                name: (check, cls(sub))
                for name, sub in schema.get("properties", {}).items()
                if (check := compile_schema(sub)) is not None
            }
            extra = schema.get("additionalProperties", True)
            self._extra = _always if extra is True else compile_schema(extra)

    def error(self, value: Any) -> str | None:
        """None when ``value`` is valid, else jsonschema's message (path included)."""
        if self._fast is not None and self._fast(value):
            return None
        if self._props is not None and isinstance(value, dict):
            bad = self._one_bad_property(value)
            if bad is not None:
                return self._property_error(bad, value[bad])
        return _message(self._validator, value, ())

    def _one_bad_property(self, value: dict[str, Any]) -> str | None:
        """The one property the compiled checks do not accept, when everything else in
        the object is proven valid (so jsonschema's errors are that property's alone);
        else None."""
        assert self._props is not None
        schema = self.schema
        for name in schema.get("required", ()):
            if name not in value:
                return None
        props, extra = self._props, self._extra
        bad = None
        for k, x in value.items():
            found = props.get(k)
            if found is None:
                if k in schema.get("properties", {}) or extra is None or not extra(x):
                    return None  # not proven valid
            elif not found[0](x):
                if bad is not None:
                    return None  # two properties: jsonschema picks among their errors
                bad = k
        return bad

    def _property_error(self, name: str, x: Any) -> str | None:
        """jsonschema's best error of the object when only property ``name`` (value
        ``x``) can fail: that of the property's own schema on ``x``, under the property's
        path, remembered per (property, value)."""
        assert self._props is not None
        try:
            key = (name, orjson.dumps(x))
        except TypeError:
            return _message(self._props[name][1], x, (name,))
        hit = self._leaf.get(key, _MISS)
        if hit is _MISS:
            if len(self._leaf) > 100_000:
                self._leaf.clear()
            hit = self._leaf[key] = _message(self._props[name][1], x, (name,))
        return hit  # type: ignore[return-value]


def _message(validator: Any, value: Any, prefix: tuple[str, ...]) -> str | None:
    """jsonschema's best error for ``value`` as a message, its path after ``prefix``."""
    best = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if best is None:
        return None
    where = "/".join(str(p) for p in (*prefix, *best.absolute_path))
    return f"{where + ': ' if where else ''}{best.message}"


def parse_json_arg(value: Any) -> tuple[Any, str | None]:
    """Tool arguments as a value: JSON text is parsed; returns (value, parse error)."""
    if isinstance(value, str | bytes):
        try:
            return orjson.loads(value), None
        except orjson.JSONDecodeError as exc:
            return None, f"arguments are not valid JSON ({exc})"
    return value, None
