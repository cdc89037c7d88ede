"""JSON Schemas as msgspec types that only *accept*: a fast path for tool checks.

:func:`accept_type` turns the subset of JSON Schema that tool definitions use (type,
properties, required, additionalProperties true/false, string enum and const, numeric
bounds, string length and pattern, items, array length) into a msgspec type. Decoding a
JSON value as that type succeeds only if the value is valid under the schema, so a
success needs no further check; a failure proves nothing (msgspec is stricter in
places, e.g. an integer written ``3.0``) and the caller asks the reference check
(:class:`nullband.traces.validate.SchemaCheck`), which gives the verdict and the
message. Schemas using other keywords get no type (None). Tests check, on random
values, that nothing accepted here is rejected by jsonschema.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, get_args, get_origin

import msgspec
import orjson

from nullband.traces.validate import _SUPPORTED, SchemaCheck

_ANNOTATIONS = {"title", "description", "default", "examples", "$comment", "format"}
# "format" is an annotation for jsonschema's validators unless a format checker is given
# The keywords understood here: the compiled checks' (validate.py) without "$id", plus
# "format" as an annotation.
_KEYS = (_SUPPORTED - {"$id"}) | _ANNOTATIONS
_COUNT = 0


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _meta(schema: dict[str, Any], keys: dict[str, str]) -> msgspec.Meta | None:
    kw: dict[str, Any] = {}
    for src, dst in keys.items():
        if src in schema:
            v = schema[src]
            if src == "pattern":
                if not isinstance(v, str):
                    return None
                re.compile(v)
            elif not _is_num(v) if dst in ("ge", "le", "gt", "lt") else not _count(v):
                return None
            kw[dst] = v
    return msgspec.Meta(**kw)


def _count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def accept_type(schema: Any) -> Any:
    """A msgspec type whose values are all valid under ``schema``, or None."""
    try:
        ty = _type(schema)
        if ty is not None:
            msgspec.json.Decoder(ty)  # msgspec refuses some combinations (e.g. int, ge=0.5)
        return ty
    except (re.error, TypeError, ValueError):
        return None


def _type(schema: Any) -> Any:
    if schema is True or schema == {}:
        return Any
    if not isinstance(schema, dict) or set(schema) - _KEYS:
        return None
    draft = schema.get("$schema", "")
    if not isinstance(draft, str) or "draft-03" in draft or "draft-04" in draft:
        return None  # drafts 3 and 4 differ here (boolean exclusiveMinimum, integers)
    for key in ("enum", "const"):
        if key in schema:
            allowed = schema["enum"] if key == "enum" else [schema["const"]]
            others = set(schema) - _ANNOTATIONS - {"$schema", key, "type"}
            if others or not isinstance(allowed, list) or not allowed:
                return None
            if not all(isinstance(a, str) or a is None for a in allowed):
                return None
            strs = tuple(a for a in allowed if isinstance(a, str))
            types = schema.get("type", ["string", "null"])
            types = [types] if isinstance(types, str) else types
            lit: Any = Literal[strs] if strs and "string" in types else None
            if None in allowed and "null" in types:
                return lit | None if lit is not None else None.__class__
            return lit
    t = schema.get("type")
    if not isinstance(t, str):
        return None  # no type or several: any value may be valid, so none is known to be
    if t == "string":
        meta = _meta(
            schema, {"minLength": "min_length", "maxLength": "max_length", "pattern": "pattern"}
        )
        return None if meta is None else Annotated[str, meta]
    if t in ("number", "integer"):
        bounds = {
            "minimum": "ge",
            "maximum": "le",
            "exclusiveMinimum": "gt",
            "exclusiveMaximum": "lt",
        }
        meta = _meta(schema, bounds)
        if meta is None:
            return None
        if t == "integer" and any(isinstance(schema.get(k), float) for k in bounds):
            return None  # msgspec compares integers with integer bounds only
        base: Any = float if t == "number" else int
        return Annotated[base, meta]
    if t == "boolean":
        return bool
    if t == "null":
        return None.__class__
    if t == "array":
        item = _type(schema.get("items", True))
        meta = _meta(schema, {"minItems": "min_length", "maxItems": "max_length"})
        if item is None or meta is None:
            return None
        return Annotated[list[item], meta]  # type: ignore[valid-type]
    if t == "object":
        return _object(schema)
    return None


def _object(schema: dict[str, Any]) -> Any:
    global _COUNT
    props = schema.get("properties", {})
    required = schema.get("required", [])
    extra = schema.get("additionalProperties", True)
    if not isinstance(props, dict) or not isinstance(required, list) or extra not in (True, False):
        return None
    if any(not isinstance(r, str) for r in required) or set(required) - set(props):
        return None  # a required key without a schema has no field to hold it
    fields: list[Any] = []
    for i, (name, sub) in enumerate(props.items()):
        ty = _type(sub)
        if ty is None:
            return None
        if name in required:
            fields.append((f"f{i}", ty, msgspec.field(name=name)))
        else:
            fields.append(
                (f"f{i}", ty | msgspec.UnsetType, msgspec.field(default=msgspec.UNSET, name=name))
            )
    if not fields and extra:
        return dict[str, Any]
    _COUNT += 1
    return msgspec.defstruct(f"_Accept{_COUNT}", fields, forbid_unknown_fields=not extra, gc=False)


class AcceptDecoders:
    """Decoders that only accept valid values, per tool (None: no fast type)."""

    def __init__(self, checks: dict[str, SchemaCheck]) -> None:
        self.decode: dict[str, Any] = {}
        self.strings: set[str] = set()
        """Tools whose type may accept a JSON string."""
        for name, check in checks.items():
            ty = accept_type(check.schema)
            self.decode[name] = msgspec.json.Decoder(ty).decode if ty is not None else None
            if ty is not None and not _never_str(ty):
                self.strings.add(name)

    def ok(self, name: str, text: bytes | str | msgspec.Raw) -> bool:
        dec = self.decode.get(name)
        if dec is None:
            return False
        try:
            dec(text)
        except (msgspec.ValidationError, msgspec.DecodeError):
            return False
        return True


def _never_str(ty: Any) -> bool:
    """The type never decodes a JSON string (a struct, a dict or a list type)."""
    if isinstance(ty, type) and issubclass(ty, msgspec.Struct):
        return True
    origin = get_origin(ty)
    if origin is Annotated:
        return _never_str(get_args(ty)[0])
    return origin in (dict, list)


class RememberedCheck(SchemaCheck):
    """A result check that remembers its message per value (keyed on the value's JSON)."""

    def __init__(self, check: SchemaCheck) -> None:  # shares the check's compiled state
        self.__dict__.update(check.__dict__)
        self._seen: dict[bytes, str | None] = {}

    def error(self, value: Any) -> str | None:
        try:
            key = orjson.dumps(value)
        except TypeError:
            return super().error(value)
        if key in self._seen:
            return self._seen[key]
        if len(self._seen) > 100_000:
            self._seen.clear()
        err = self._seen[key] = super().error(value)
        return err
