"""Matching predicted calls to gold calls: optimal, order-free assignment.

Parallel calls are paired by maximising the total score (right tool = 1, plus the
argument F1) with ``scipy.optimize.linear_sum_assignment``, so overlapping acceptable
sets cannot produce the false negatives of greedy first-fit matching.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from nullband.score.normalize import NormalizeOptions
from nullband.score.toolcalls.argf1 import Tally, score_args
from nullband.score.toolcalls.gold import (
    GoldCall,
    compile_bfcl_params,
    compile_plain_args,
    is_bfcl_form,
    plain_calls,
)
from nullband.score.toolcalls.parse import PredCall, resolve_name


class GoldShapeError(ValueError):
    """``Case.expected`` is not a list of tool calls in a known shape."""


def compile_gold(
    expected: Any, schemas: dict[str, dict[str, Any]], opts: NormalizeOptions
) -> list[GoldCall]:
    """Compile a case's gold calls (plain or BFCL shape; see :mod:`.gold`).

    Raises:
        GoldShapeError: ``expected`` is neither shape.
    """
    calls: list[GoldCall] = []
    if is_bfcl_form(expected):
        for call in expected:
            ((name, params),) = call.items()
            name = resolve_name(name, schemas)
            calls.append(GoldCall(name, compile_bfcl_params(params, schemas.get(name), opts), call))
        return calls
    plain = plain_calls(expected)
    if plain is None:
        raise GoldShapeError(
            "expected must be a list of {name, arguments} calls or BFCL's "
            f"[{{name: {{param: [values]}}}}] form, got {type(expected).__name__}"
        )
    for call in plain:
        name = resolve_name(call["name"], schemas)
        node = compile_plain_args(call["arguments"], schemas.get(name), opts)
        calls.append(GoldCall(name, node, call))
    return calls


@dataclass(slots=True)
class CallPair:
    """One gold call and the predicted call it was paired with (either may be absent).

    Attributes:
        gold: index into the gold calls, or None for an extra predicted call.
        pred: index into the predicted calls, or None for a missed gold call.
        tool: the gold tool name (or the predicted one for an extra call).
        name_ok: the predicted tool is the gold tool.
        tally: argument counts when the tool was right and the arguments decoded.
        error: why the arguments could not be scored (malformed JSON).
    """

    gold: int | None
    pred: int | None
    tool: str
    name_ok: bool
    tally: Tally | None
    error: str | None = None


def _pair_score(g: GoldCall, p: PredCall, opts: NormalizeOptions) -> tuple[float, Tally | None]:
    if p.name != g.name:
        return 0.0, None
    if p.args is None:
        return 1.0, None
    tally = score_args(g.args, p.args, opts)
    return 1.0 + tally.f1, tally


def match_calls(
    gold: list[GoldCall], pred: list[PredCall], opts: NormalizeOptions
) -> list[CallPair]:
    """Pair gold and predicted calls optimally; unpaired calls appear with one side None.

    Fast path: when first-fit pairing finds an exact call for every gold call, that pairing
    is optimal (no pair can score more than an exact one); otherwise the full score matrix
    goes to the assignment solver.
    """
    n, m = len(gold), len(pred)
    tallies: dict[tuple[int, int], Tally | None] = {}
    scores: dict[tuple[int, int], float] = {}

    def pair(i: int, j: int) -> float:
        if (i, j) not in scores:
            scores[i, j], tallies[i, j] = _pair_score(gold[i], pred[j], opts)
        return scores[i, j]

    rows: list[int] = []
    cols: list[int] = []
    if n == m:
        used: set[int] = set()
        for i in range(n):
            for j in range(m):
                if j not in used and pred[j].name == gold[i].name and pair(i, j) == 2.0:
                    t = tallies[i, j]
                    if t is not None and t.exact:
                        used.add(j)
                        rows.append(i)
                        cols.append(j)
                        break
            else:
                break
    if len(rows) != min(n, m) or (n != m):
        rows, cols = [], []
        if n == 1 and m == 1:
            pair(0, 0)
            rows, cols = [0], [0]
        elif n and m:
            matrix = np.array([[pair(i, j) for j in range(m)] for i in range(n)])
            r, c = linear_sum_assignment(matrix, maximize=True)
            rows, cols = r.tolist(), c.tolist()
    pairs: list[CallPair] = []
    used_g, used_p = set(), set()
    for i, j in zip(rows, cols, strict=True):
        g, p = gold[i], pred[j]
        name_ok = g.name == p.name
        pairs.append(CallPair(i, j, g.name, name_ok, tallies[i, j], p.error if name_ok else None))
        used_g.add(i)
        used_p.add(j)
    for i, g in enumerate(gold):
        if i not in used_g:
            pairs.append(CallPair(i, None, g.name, False, None))
    for j, p in enumerate(pred):
        if j not in used_p:
            pairs.append(CallPair(None, j, p.name, False, None, p.error))
    return pairs
