"""The compiled schema fast path never accepts what jsonschema rejects (jsonschema is the oracle)."""

from __future__ import annotations

from typing import Any

import jsonschema
from hypothesis import given, settings
from hypothesis import strategies as st

from nullband.traces.synth import RESULT_SCHEMAS, TOOLS
from nullband.traces.validate import SchemaCheck, compile_schema

SCHEMAS: list[dict[str, Any]] = [
    *TOOLS.values(),
    *RESULT_SCHEMAS.values(),
    {"type": ["integer", "null"], "minimum": 0, "exclusiveMaximum": 10},
    {"type": "array", "items": {"type": "number"}, "minItems": 1, "maxItems": 3},
    {"type": "object", "additionalProperties": {"type": "string", "maxLength": 3}},
    {"const": "x"},
    {"type": "string", "pattern": "^[a-c]+$"},
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-20, 20)
    | st.floats(-20, 20, allow_nan=False)
    | st.text(alphabet="abcxyzC0129-_", max_size=8)
    | st.sampled_from(["USD", "EUR", "C123456", "x", "", "tier"]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "customer_id",
                    "fields",
                    "order_id",
                    "amount",
                    "currency",
                    "query",
                    "top_k",
                    "hits",
                    "refund_id",
                    "status",
                    "tier",
                    "zz",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=600, deadline=None)
@given(value=json_values, idx=st.integers(0, len(SCHEMAS) - 1))
def test_fast_path_agrees_with_jsonschema(value: Any, idx: int) -> None:
    schema = SCHEMAS[idx]
    fast = compile_schema(schema)
    assert fast is not None
    valid = jsonschema.Draft202012Validator(schema).is_valid(value)
    if fast(value):
        assert valid, (schema, value)
    assert (SchemaCheck(schema).error(value) is None) == valid


def test_unsupported_keywords_fall_back_to_jsonschema() -> None:
    schema = {"anyOf": [{"type": "string"}, {"type": "integer"}]}
    assert compile_schema(schema) is None
    check = SchemaCheck(schema)
    assert check.error("a") is None
    err = check.error(1.5)
    assert err is not None
    assert "is not valid under any of the given schemas" in err
    assert (
        SchemaCheck(TOOLS["crm_lookup"]).error({"customer_id": "X1"})
        == "customer_id: 'X1' does not match '^C[0-9]{6}$'"
    )


OBJECT_SCHEMAS: list[dict[str, Any]] = [
    *TOOLS.values(),
    {
        "type": "object",
        "properties": {
            "zz": {"type": "array", "items": {"type": "integer", "maximum": 3}, "maxItems": 2},
            "tier": {"enum": ["gold", None]},
            "query": {"type": ["string", "null"], "minLength": 2, "pattern": "^[a-c]"},
        },
        "additionalProperties": {"type": "number", "exclusiveMinimum": 0},
    },
    {"type": "object", "properties": {"amount": {"type": "integer"}}, "required": ["amount"]},
]


def _jsonschema_message(schema: dict[str, Any], value: Any) -> str | None:
    best = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema).iter_errors(value)
    )
    if best is None:
        return None
    where = "/".join(str(p) for p in best.absolute_path)
    return f"{where + ': ' if where else ''}{best.message}"


@settings(max_examples=800, deadline=None)
@given(value=json_values, idx=st.integers(0, len(OBJECT_SCHEMAS) - 1))
def test_messages_are_jsonschemas_best_match(value: Any, idx: int) -> None:
    # an object with one property the compiled checks reject is checked on that
    # property alone (and remembered): the message must be jsonschema's for the object
    schema = OBJECT_SCHEMAS[idx]
    check = SchemaCheck(schema)
    want = _jsonschema_message(schema, value)
    assert check.error(value) == want
    assert check.error(value) == want  # again, from memory where remembered


def test_one_bad_property_is_checked_alone_and_remembered() -> None:
    check = SchemaCheck(TOOLS["create_refund"])
    bad = {"order_id": "O-1", "amount": -5.0, "currency": "USD"}
    assert check.error(bad) == "amount: -5.0 is less than the minimum of 0"
    assert check._leaf == {("amount", b"-5.0"): "amount: -5.0 is less than the minimum of 0"}
    # another object with the same bad value: the remembered message
    assert check.error({**bad, "order_id": "O-2"}) == "amount: -5.0 is less than the minimum of 0"
    # two bad properties or a missing one: the whole object goes to jsonschema
    two = {"order_id": 5, "amount": -5.0, "currency": "USD"}
    assert check.error(two) == _jsonschema_message(TOOLS["create_refund"], two)
    assert check.error({"amount": -1}) == "'order_id' is a required property"
    assert len(check._leaf) == 1
