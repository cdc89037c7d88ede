"""Graded argument scoring: weighted F1 over flattened key paths.

Every gold leaf (a scalar at a key path such as ``/legs/0/from``) weighs
``REQUIRED_WEIGHT`` when every key on its path is required by the tool's JSON Schema,
else ``OPTIONAL_WEIGHT``. Predicted leaves weigh the same at the same paths; extra keys
the gold does not have weigh by the schema the same way.

- precision = matched weight / predicted weight
- recall    = matched weight / gold weight
- a gold key marked optional (BFCL ``""``) that the model omits is not counted at all;
- a predicted key with value ``null`` that the gold lacks counts as omitted, not extra;
- lists are compared position by position (BFCL's rule: order matters), or, with
  ``unordered_lists``, element by element after an optimal assignment;
- a key with several acceptable values is scored against the best-matching one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from nullband.score.normalize import NormalizeOptions, match_leaf
from nullband.score.toolcalls.gold import Alt, Arr, Leaf, Node, Obj

REQUIRED_WEIGHT = 2.0
OPTIONAL_WEIGHT = 1.0


@dataclass(slots=True)
class Tally:
    """Weighted counts for one call's arguments."""

    matched: float = 0.0
    gold: float = 0.0
    pred: float = 0.0
    missing: int = 0
    extra: int = 0
    type_errors: int = 0
    value_errors: int = 0
    coerced: int = 0

    def add(self, o: Tally) -> None:
        """Add another tally into this one."""
        self.matched += o.matched
        self.gold += o.gold
        self.pred += o.pred
        self.missing += o.missing
        self.extra += o.extra
        self.type_errors += o.type_errors
        self.value_errors += o.value_errors
        self.coerced += o.coerced

    @property
    def precision(self) -> float:
        """Matched over predicted weight (1.0 when nothing was predicted or expected)."""
        if self.pred == 0:
            return 1.0 if self.gold == 0 else 0.0
        return self.matched / self.pred

    @property
    def recall(self) -> float:
        """Matched over gold weight (1.0 when the gold expects no arguments)."""
        if self.gold == 0:
            return 1.0 if self.pred == 0 else 0.0
        return self.matched / self.gold

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall (1.0 for a correct no-argument call)."""
        if self.gold == 0 and self.pred == 0:
            return 1.0
        p, r = self.precision, self.recall
        return 0.0 if p + r == 0 else 2 * p * r / (p + r)

    @property
    def exact(self) -> bool:
        """Every gold leaf matched and nothing extra."""
        return self.matched == self.gold == self.pred and self.missing == 0 and self.extra == 0


def count_leaves(value: Any) -> int:
    """Number of scalar leaves in a predicted value (an empty container is one leaf)."""
    if isinstance(value, dict):
        return sum(count_leaves(v) for v in value.values()) if value else 1
    if isinstance(value, list):
        return sum(count_leaves(v) for v in value) if value else 1
    return 1


def score_args(gold: Obj, pred: dict[str, Any], opts: NormalizeOptions) -> Tally:
    """Score predicted arguments against compiled gold arguments."""
    t = Tally()
    _obj(gold, pred, True, opts, t)
    return t


def _w(req: bool) -> float:
    return REQUIRED_WEIGHT if req else OPTIONAL_WEIGHT


def _node(node: Node, pred: Any, req: bool, opts: NormalizeOptions, t: Tally) -> None:
    if type(node) is Leaf:
        w = REQUIRED_WEIGHT if req else OPTIONAL_WEIGHT
        t.gold += w
        if type(pred) in _CONTAINERS and pred:
            t.pred += w * count_leaves(pred)
            t.type_errors += 1
            return
        t.pred += w
        verdict = match_leaf(node.gold, pred, opts)
        if verdict == "match":
            t.matched += w
        elif verdict == "coerced":
            t.matched += w
            t.coerced += 1
        elif verdict == "type_error":
            t.type_errors += 1
        else:
            t.value_errors += 1
    elif type(node) is Obj:
        if type(pred) is dict:
            _obj(node, pred, req, opts, t)
        else:
            _mismatch(node, pred, req, t)
    elif type(pred) is list:
        assert type(node) is Arr
        items = node.items
        if opts.unordered_lists and len(items) > 1 and len(pred) > 1:
            _unordered(items, pred, req, opts, t)
            return
        for i, item in enumerate(items):
            if i < len(pred):
                _node(item, pred[i], req, opts, t)
            else:
                t.gold += _w(req) * item.nleaves
                t.missing += 1
        for extra in pred[len(items) :]:
            t.pred += _w(req) * count_leaves(extra)
            t.extra += 1
    else:
        _mismatch(node, pred, req, t)


_CONTAINERS = (dict, list)


def _unordered(
    items: list[Node], pred: list[Any], req: bool, opts: NormalizeOptions, t: Tally
) -> None:
    """Pair list elements by optimal assignment (``unordered_lists``)."""
    subs = [[Tally() for _ in pred] for _ in items]
    value = np.zeros((len(items), len(pred)))
    for i, item in enumerate(items):
        for j, p in enumerate(pred):
            _node(item, p, req, opts, subs[i][j])
            value[i, j] = 2 * subs[i][j].matched - subs[i][j].gold - subs[i][j].pred
    rows, cols = linear_sum_assignment(value, maximize=True)
    for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
        t.add(subs[i][j])
    for i in set(range(len(items))) - set(rows.tolist()):
        t.gold += _w(req) * items[i].nleaves
        t.missing += 1
    for j in set(range(len(pred))) - set(cols.tolist()):
        t.pred += _w(req) * count_leaves(pred[j])
        t.extra += 1


def _mismatch(node: Node, pred: Any, req: bool, t: Tally) -> None:
    w = _w(req)
    t.gold += w * node.nleaves
    if pred is not None:
        t.pred += w * count_leaves(pred)
    t.type_errors += 1


def _obj(node: Obj, pred: dict[str, Any], req: bool, opts: NormalizeOptions, t: Tally) -> None:
    required = node.required
    for k, alt in node.keys.items():
        kreq = req and k in required
        v = pred.get(k)
        if v is None and (k not in pred or not _accepts_null(alt)):
            if not alt.optional:
                t.gold += _w(kreq) * alt.nleaves
                t.missing += 1
            continue
        if len(alt.options) == 1:
            _node(alt.options[0], v, kreq, opts, t)
        else:
            _alt(alt, v, kreq, opts, t)
    for k, v in pred.items():
        if k not in node.keys and v is not None:
            t.pred += _w(req and k in required) * count_leaves(v)
            t.extra += 1


def _accepts_null(alt: Alt) -> bool:
    return any(isinstance(o, Leaf) and o.gold.kind == "null" for o in alt.options)


def _alt(alt: Alt, pred: Any, req: bool, opts: NormalizeOptions, t: Tally) -> None:
    if not alt.options:
        # An unsatisfiable gold (BFCL lists a few): whatever was given is wrong.
        t.gold += _w(req)
        t.pred += _w(req) * count_leaves(pred)
        t.value_errors += 1
        return
    if len(alt.options) == 1:
        _node(alt.options[0], pred, req, opts, t)
        return
    best: Tally | None = None
    best_key = 0.0
    for option in alt.options:
        sub = Tally()
        _node(option, pred, req, opts, sub)
        key = 2 * sub.matched - sub.gold - sub.pred
        if best is None or key > best_key:
            best, best_key = sub, key
            if sub.matched == sub.gold == sub.pred:
                break
    assert best is not None
    t.add(best)
