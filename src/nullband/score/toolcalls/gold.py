"""Gold tool calls, compiled once into a tree that graded scoring walks.

Two gold shapes are accepted in ``Case.expected`` (see docs/tool-scoring.md):

- plain: ``[{"name": "get_weather", "arguments": {"city": "Paris"}}, ...]``; every gold
  key is expected, its value is the one right answer (compared after normalisation).
- BFCL: ``[{"get_weather": {"city": ["Paris", "paris, fr"], "unit": ["", "C"]}}, ...]``;
  every parameter maps to a list of acceptable values, ``""`` in the list means the
  parameter may be omitted; a dict-typed value is ``{key: [acceptable values]}``.

Required keys come from the tool's JSON Schema (``required``), never from the gold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nullband.score.normalize import GoldLeaf, NormalizeOptions, prepare_gold


@dataclass(slots=True)
class Leaf:
    """A scalar (or empty container) gold value."""

    gold: GoldLeaf
    nleaves: int = 1


@dataclass(slots=True)
class Alt:
    """The acceptable values of one key; ``optional`` when it may be omitted."""

    options: list[Node]
    optional: bool
    nleaves: int


@dataclass(slots=True)
class Obj:
    """A gold object: its keys, and which keys the schema requires."""

    keys: dict[str, Alt]
    required: frozenset[str]
    nleaves: int


@dataclass(slots=True)
class Arr:
    """A gold list (compared position by position)."""

    items: list[Node]
    nleaves: int


Node = Leaf | Obj | Arr


@dataclass(slots=True)
class GoldCall:
    """One gold call: tool name and compiled arguments."""

    name: str
    args: Obj
    raw: dict[str, Any] = field(default_factory=dict)


def schema_props(schema: dict[str, Any] | None) -> dict[str, Any]:
    """The ``properties`` of an object schema ({} when absent)."""
    if not schema:
        return {}
    props = schema.get("properties")
    return props if isinstance(props, dict) else {}


def schema_required(schema: dict[str, Any] | None) -> frozenset[str]:
    """The ``required`` names of an object schema."""
    if not schema:
        return frozenset()
    req = schema.get("required")
    return frozenset(r for r in req if isinstance(r, str)) if isinstance(req, list) else frozenset()


def schema_items(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    """The ``items`` schema of an array schema."""
    if not schema:
        return None
    items = schema.get("items")
    return items if isinstance(items, dict) else None


def schema_type(schema: dict[str, Any] | None) -> str | None:
    """The ``type`` of a schema when it is a single string."""
    if not schema:
        return None
    t = schema.get("type")
    return t if isinstance(t, str) else None


def compile_plain(
    value: Any, schema: dict[str, Any] | None, opts: NormalizeOptions, key: str = ""
) -> Node:
    """Compile a plain gold value (one right answer per key)."""
    if isinstance(value, dict) and value:
        props = schema_props(schema)
        keys = {k: _single(compile_plain(v, props.get(k), opts, k)) for k, v in value.items()}
        return Obj(keys, schema_required(schema), sum(a.nleaves for a in keys.values()))
    if isinstance(value, list) and value:
        items = [compile_plain(v, schema_items(schema), opts, key) for v in value]
        return Arr(items, sum(i.nleaves for i in items))
    return Leaf(prepare_gold(value, opts, schema_type=schema_type(schema), key=key))


def compile_plain_args(
    args: dict[str, Any], schema: dict[str, Any] | None, opts: NormalizeOptions
) -> Obj:
    """Compile a plain call's arguments object (an empty one expects no arguments)."""
    node = compile_plain(args, schema, opts)
    if isinstance(node, Obj):
        return node
    return Obj({}, schema_required(schema), 0)


def _single(node: Node) -> Alt:
    return Alt([node], False, node.nleaves)


def compile_bfcl_params(
    params: dict[str, Any], schema: dict[str, Any] | None, opts: NormalizeOptions
) -> Obj:
    """Compile a BFCL ``{param: [acceptable values]}`` map."""
    props = schema_props(schema)
    keys = {k: compile_bfcl_alt(v, props.get(k), opts, k) for k, v in params.items()}
    return Obj(
        keys,
        schema_required(schema),
        sum(a.nleaves for a in keys.values() if not a.optional),
    )


def compile_bfcl_alt(
    acceptable: Any, schema: dict[str, Any] | None, opts: NormalizeOptions, key: str
) -> Alt:
    """Compile one BFCL list of acceptable values ("" = may be omitted)."""
    if not isinstance(acceptable, list):
        acceptable = [acceptable]
    optional = any(a == "" for a in acceptable if isinstance(a, str))
    options = [_bfcl_value(a, schema, opts, key) for a in acceptable if a != ""]
    return Alt(options, optional, options[0].nleaves if options else 1)


def _bfcl_value(
    value: Any, schema: dict[str, Any] | None, opts: NormalizeOptions, key: str
) -> Node:
    if isinstance(value, dict) and value:
        return compile_bfcl_params(value, schema, opts)
    if isinstance(value, list) and value:
        items_schema = schema_items(schema)
        items = [_bfcl_value(v, items_schema, opts, key) for v in value]
        return Arr(items, sum(i.nleaves for i in items))
    return Leaf(prepare_gold(value, opts, schema_type=schema_type(schema), key=key))


def is_bfcl_form(expected: Any) -> bool:
    """True when ``expected`` is a BFCL ground-truth list ``[{name: {param: [...]}}]``."""
    if not isinstance(expected, list) or not expected:
        return False
    for call in expected:
        if not isinstance(call, dict) or len(call) != 1:
            return False
        ((_, params),) = call.items()
        if not isinstance(params, dict) or not all(isinstance(v, list) for v in params.values()):
            return False
    return True


def plain_calls(expected: Any) -> list[dict[str, Any]] | None:
    """The list of ``{name, arguments}`` gold calls, or None when ``expected`` is not one."""
    if isinstance(expected, dict) and "name" in expected:
        expected = [expected]
    if not isinstance(expected, list):
        return None
    out = []
    for call in expected:
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            return None
        args = call.get("arguments", {})
        if not isinstance(args, dict):
            return None
        out.append({"name": call["name"], "arguments": args})
    return out
