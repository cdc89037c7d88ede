"""msgspec types from JSON Schemas accept only values jsonschema finds valid."""

from __future__ import annotations

from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nullband.traces.msgschema import accept_type
from nullband.traces.synth import RESULT_SCHEMAS, TOOLS
from nullband.traces.validate import SchemaCheck

EXTRA: dict[str, dict[str, Any]] = {
    "nested": {
        "type": "object",
        "properties": {
            "query": {"type": "string", "minLength": 1, "maxLength": 4},
            "fields": {"type": "array", "items": {"type": "integer"}, "minItems": 1},
            "other": {
                "type": "object",
                "properties": {"amount": {"type": "number", "exclusiveMinimum": 0}},
                "required": ["amount"],
                "additionalProperties": False,
            },
        },
        "required": ["query"],
    },
    "enums": {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {
            "currency": {"enum": ["USD", "EUR", None]},
            "status": {"const": "ok"},
            "flag": {"type": "boolean"},
            "nothing": {"type": "null"},
            "top_k": {"type": "integer", "minimum": 1, "exclusiveMaximum": 10},
            "customer_id": {"type": "string", "pattern": "C[0-9]{2}"},
        },
        "additionalProperties": False,
    },
}
SCHEMAS = {**{f"tool:{k}": v for k, v in TOOLS.items()}, **RESULT_SCHEMAS, **EXTRA}

_leaf = (
    st.none()
    | st.booleans()
    | st.integers(-20, 20)
    | st.floats(-50, 50, allow_nan=False)
    | st.sampled_from(["", "q", "USD", "EUR", "ok", "C12", "xC123", "pending", "tier", "abcdef"])
)
_json = st.recursive(
    _leaf,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["amount", "x"]), inner, max_size=2)
    ),
    max_leaves=6,
)
_keys = st.sampled_from(
    [
        "query",
        "top_k",
        "customer_id",
        "fields",
        "order_id",
        "amount",
        "currency",
        "hits",
        "tier",
        "refund_id",
        "status",
        "other",
        "flag",
        "nothing",
        "extra",
    ]
)


@settings(max_examples=600, deadline=None)
@given(
    name=st.sampled_from(sorted(SCHEMAS)),
    value=st.dictionaries(_keys, _json, max_size=5) | _json,
)
def test_accepted_values_are_valid(name: str, value: Any) -> None:
    ty = accept_type(SCHEMAS[name])
    assert ty is not None
    try:
        msgspec.json.decode(orjson.dumps(value), type=ty)
    except msgspec.ValidationError:
        return
    # the oracle: jsonschema, through the reference check
    assert SchemaCheck(SCHEMAS[name]).error(value) is None, (name, value)


def test_usual_valid_values_are_accepted() -> None:
    # the fast path is taken for ordinary valid values (else every row goes to the reference)
    valid = {
        "tool:crm_lookup": ['{"customer_id":"C000123","fields":["tier"]}'],
        "tool:create_refund": ['{"order_id":"O-1","amount":19.5,"currency":"EUR"}'],
        "tool:search_kb": ['{"query":"reset password","top_k":3}', '{"query": "q"}'],
        "crm_lookup": ['{"customer_id":"C000123","tier":"gold","since":2020}'],
        "search_kb": ['{"hits":["a","b"]}'],
        "nested": ['{"query":"q","fields":[1,2],"other":{"amount":0.5}}'],
        "enums": ['{"currency":null,"status":"ok","top_k":9,"customer_id":"xC12y"}', "{}"],
    }
    for name, texts in valid.items():
        dec = msgspec.json.Decoder(accept_type(SCHEMAS[name]))
        for text in texts:
            dec.decode(text)
            assert SchemaCheck(SCHEMAS[name]).error(orjson.loads(text)) is None


def test_invalid_values_are_refused() -> None:
    invalid = {
        "tool:crm_lookup": ['{"customer_id":"X1"}', '{"customer_id":"C000123","x":1}', "{}"],
        "tool:create_refund": ['{"order_id":"O-1","amount":-1,"currency":"EUR"}'],
        "tool:search_kb": [
            '{"query":""}',
            '{"query":"q","top_k":11}',
            '{"query":"q","top_k":true}',
        ],
        "enums": ['{"top_k":10}', '{"status":"no"}', '{"extra":1}', '{"customer_id":"C1"}'],
        "nested": ['{"query":"q","other":{}}', '{"query":"q","fields":[]}', '"q"'],
    }
    for name, texts in invalid.items():
        dec = msgspec.json.Decoder(accept_type(SCHEMAS[name]))
        for text in texts:
            with pytest.raises(msgspec.ValidationError):
                dec.decode(text)
            assert SchemaCheck(SCHEMAS[name]).error(orjson.loads(text)) is not None


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "oneOf": []},
        {"type": ["string", "null"]},
        {"properties": {"x": {"type": "string"}}},
        {"type": "object", "additionalProperties": {"type": "string"}},
        {"type": "object", "required": ["x"]},
        {"$schema": "http://json-schema.org/draft-04/schema#", "type": "integer"},
        {"type": "integer", "minimum": 0.5},
        {"type": "array", "items": [{"type": "string"}]},
        {"enum": [1, 2]},
    ],
)
def test_schemas_outside_the_subset_get_no_type(schema: dict[str, Any]) -> None:
    assert accept_type(schema) is None
