"""BFCL-compatible strict checking (the rules of BFCL's AST checker, Python language).

Re-implemented from the rules described in shared/reference/judges-and-tool-scoring.md
(sections 1.4-1.7), so BFCL's possible-answer files score as their authors intend:

- every schema-required parameter present (``missing_required``); every supplied
  parameter in the schema *and* in the gold (``unexpected_param``);
- Python type rules: int accepted for float, never bool for int, ``"2"`` never a number;
  a gold written in another type than the schema (a "variable") is compared as given;
- strings: remove ``[ ,./-_*^]``, lowercase, ``'`` -> ``"``, then membership;
- lists: same length and order; dicts: keys must be in the gold dict, values
  normalised, missing keys need ``""``; lists of dicts: position by position;
- gold params the model omitted need ``""`` (``missing_optional``).

One deliberate difference: parallel calls are matched optimally (a perfect matching of
passing pairs), not greedily; ``matching="greedy"`` reproduces BFCL's first-fit order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy.optimize import linear_sum_assignment

from nullband.score.toolcalls.parse import PredCall

_STRIP = re.compile(r"[ ,./\-_*^]")
_PY_TYPES: dict[str, type] = {
    "string": str,
    "integer": int,
    "float": float,
    "boolean": bool,
    "array": list,
    "tuple": list,
    "dict": dict,
    "any": str,
}
_FROM_JSON_SCHEMA = {"number": "float", "object": "dict"}


@dataclass(frozen=True, slots=True)
class Verdict:
    """A BFCL check outcome: ``error_type`` uses BFCL's names (e.g. ``value_error:string``)."""

    valid: bool
    error_type: str | None = None
    error: str | None = None


_OK = Verdict(True)


def standardize(s: str) -> str:
    """BFCL's string normalisation."""
    return _STRIP.sub("", s).lower().replace("'", '"')


def bfcl_type(schema: dict[str, Any]) -> str:
    """The BFCL type name of a parameter schema (JSON Schema names mapped back)."""
    t = schema.get("type", "any")
    if not isinstance(t, str):
        return "any"
    return _FROM_JSON_SCHEMA.get(t, t)


def _answer_type(possible: list[Any]) -> type | None:
    for a in possible:
        if not (isinstance(a, str) and a == ""):
            return type(a)
    return None


def _type_check(
    value: Any, possible: list[Any], expected: type, nested: type | None
) -> tuple[Verdict, bool]:
    """BFCL's type_checker: returns (verdict, is_variable)."""
    ans_type = _answer_type(possible)
    is_variable = ans_type is not None and ans_type is not expected
    if type(value) is expected:
        if nested is None:
            return _OK, is_variable
        for item in possible:
            flag = True
            if isinstance(item, list) and isinstance(value, list):
                for v in value:
                    sub, _ = _type_check(v, item, nested, None)
                    if not sub.valid:
                        flag = False
                        break
            if flag:
                return _OK, is_variable
    if ans_type is not None and type(value) is ans_type:
        return _OK, True
    nested_fail = type(value) is expected and nested is not None
    kind = "type_error:nested" if nested_fail else "type_error:simple"
    return Verdict(
        False, kind, f"{type(value).__name__} value {value!r} for {expected.__name__}"
    ), False


def _std_list(values: Any) -> list[Any]:
    return [standardize(v) if type(v) is str else v for v in values]


def _string_check(param: str, value: str, possible: list[Any]) -> Verdict:
    if standardize(value) in [standardize(a) for a in possible if type(a) is str]:
        return _OK
    return Verdict(False, "value_error:string", f"{param}: {value!r} not in {possible!r}")


def _list_check(param: str, value: list[Any], possible: list[Any]) -> Verdict:
    if _std_list(value) in [_std_list(a) for a in possible if isinstance(a, list | str)]:
        return _OK
    return Verdict(False, "value_error:list/tuple", f"{param}: {value!r} not in {possible!r}")


def _dict_check(param: str, value: dict[str, Any], possibles: list[Any]) -> Verdict:
    result = Verdict(False, "dict_checker:unclear", f"{param}: no acceptable dict")
    for possible in possibles:
        if isinstance(possible, str) and possible == "":
            continue
        flag = True
        for key, v in value.items():
            if key not in possible:
                result = Verdict(False, "value_error:dict_key", f"{param}: unexpected key {key!r}")
                flag = False
                break
            sv = standardize(v) if type(v) is str else v
            if sv not in _std_list(possible[key]):
                result = Verdict(
                    False,
                    "value_error:dict_value",
                    f"{param}.{key}: {v!r} not in {possible[key]!r}",
                )
                flag = False
                break
        if flag:
            for key, accepted in possible.items():
                if key not in value and "" not in accepted:
                    result = Verdict(False, "value_error:dict_key", f"{param}: missing key {key!r}")
                    flag = False
                    break
        if flag:
            return _OK
    return result


def _list_dict_check(param: str, value: list[Any], possibles: list[Any]) -> Verdict:
    result = Verdict(False, "list_dict_checker:unclear", f"{param}: no acceptable list")
    for possible in possibles:
        if len(value) != len(possible):
            result = Verdict(False, "value_error:list_dict_count", f"{param}: wrong count")
            continue
        flag = True
        for item, gold_item in zip(value, possible, strict=True):
            result = _dict_check(param, item, [gold_item])
            if not result.valid:
                flag = False
                break
        if flag:
            return _OK
    return result


def check_call(
    func: dict[str, Any], emitted_name: str, args: dict[str, Any], gold: dict[str, list[Any]]
) -> Verdict:
    """BFCL's simple_function_checker for one call whose name is already known to match.

    Args:
        func: the BFCL function description (``parameters.properties``, ``required``).
        emitted_name: the name the model used (for messages only).
        args: the decoded arguments.
        gold: the gold ``{param: [acceptable values]}``.
    """
    params = func.get("parameters") or {}
    details: dict[str, Any] = params.get("properties") or {}
    for req in params.get("required") or []:
        if req not in args:
            return Verdict(False, "simple_function_checker:missing_required", f"missing {req!r}")
    for param, value in args.items():
        if param not in details or param not in gold:
            return Verdict(
                False, "simple_function_checker:unexpected_param", f"unexpected param {param!r}"
            )
        detail = details[param] if isinstance(details[param], dict) else {}
        tname = bfcl_type(detail)
        expected = _PY_TYPES.get(tname, str)
        nested: type | None = None
        if tname in ("array", "tuple"):
            items = detail.get("items")
            if isinstance(items, dict):
                nested = _PY_TYPES.get(bfcl_type(items), str)
        if tname == "float" and type(value) is int:
            value = float(value)
        possible = gold[param]
        verdict, is_variable = _type_check(value, possible, expected, nested)
        if not verdict.valid:
            return Verdict(False, verdict.error_type, f"{param}: {verdict.error}")
        if not is_variable:
            if expected is dict:
                verdict = _dict_check(param, value, possible)
            elif expected is list and nested is dict:
                verdict = _list_dict_check(param, value, possible)
            elif expected is str:
                verdict = _string_check(param, value, possible)
            elif expected is list:
                verdict = _list_check(param, value, possible)
            elif value not in possible:
                verdict = Verdict(
                    False, "value_error:others", f"{param}: {value!r} not in {possible!r}"
                )
            if not verdict.valid:
                return verdict
        elif value not in possible:
            return Verdict(False, "value_error:others", f"{param}: {value!r} not in {possible!r}")
    for param, accepted in gold.items():
        if param not in args and "" not in accepted:
            return Verdict(False, "simple_function_checker:missing_optional", f"missing {param!r}")
    return _OK


Matching = Literal["optimal", "greedy"]


@dataclass(frozen=True, slots=True)
class BfclGold:
    """One gold call: the name the model must emit, its description and acceptable values."""

    name: str
    func: dict[str, Any]
    params: dict[str, list[Any]]


def check_calls(
    golds: list[BfclGold], pred: list[PredCall], *, matching: Matching = "optimal"
) -> Verdict:
    """Check a model's calls against BFCL gold calls (simple, multiple and parallel).

    Counts must be equal; calls are matched order-free. Malformed argument JSON is
    BFCL's ``ast_decoder:decoder_failed``.
    """
    for p in pred:
        if p.args is None:
            return Verdict(False, "ast_decoder:decoder_failed", p.error)
    if len(pred) != len(golds):
        return Verdict(False, "wrong_count", f"{len(pred)} call(s) for {len(golds)} expected")
    if not golds:
        return _OK

    def one(g: BfclGold, p: PredCall) -> Verdict:
        if p.name != g.name:
            return Verdict(
                False, "simple_function_checker:wrong_func_name", f"{p.name!r} for {g.name!r}"
            )
        assert p.args is not None
        return check_call(g.func, p.name, p.args, g.params)

    if len(golds) == 1:
        return one(golds[0], pred[0])
    if matching == "greedy":
        used: set[int] = set()
        for g in golds:
            found = False
            for j, p in enumerate(pred):
                if j not in used and one(g, p).valid:
                    used.add(j)
                    found = True
                    break
            if not found:
                return Verdict(False, "parallel:cannot_find_match", f"no match for {g.name!r}")
        return _OK
    ok = np.zeros((len(golds), len(pred)))
    first_error: Verdict | None = None
    for i, g in enumerate(golds):
        for j, p in enumerate(pred):
            v = one(g, p)
            ok[i, j] = 1.0 if v.valid else 0.0
            if not v.valid and first_error is None:
                first_error = v
    rows, cols = linear_sum_assignment(ok, maximize=True)
    if ok[rows, cols].sum() == len(golds):
        return _OK
    missed = [golds[i].name for i, j in zip(rows, cols, strict=True) if ok[i, j] == 0]
    detail = first_error.error if first_error else ""
    return Verdict(
        False, "parallel:cannot_find_match", f"no passing call for {missed}; first error: {detail}"
    )
