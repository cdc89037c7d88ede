"""Trajectory signals: multi-step tool use scored from a transcript.

The gold (``Case.expected``) is ``{"steps": [...], "final_answer": ..., "min_steps": n}``
(or just the list of steps). A step is a ``{name, arguments}`` call, or a list of calls
made in one turn; ``final_answer`` is a string (or list of strings) an assistant
message must contain; ``min_steps`` overrides the gold length for the length delta.

The transcript is ``Record.messages`` (OpenAI chat messages; assistant ``tool_calls``,
``tool`` results), else the record's single-turn ``tool_calls``. A step is one tool call.

Signals (values of the ``trajectory`` scorer):

- ``traj_selection``: gold calls matched, by a monotone alignment of taken calls to gold
  calls, to a call of the right tool, over gold calls;
- ``traj_arg_f1``: mean argument F1 over aligned right-tool calls (null if none);
- ``recovery``: over tool results that are errors, the share where the next call is
  not an identical repeat *and* a later call of the same tool succeeds (null when no
  tool errored);
- ``length_delta``: calls taken minus gold calls (or ``min_steps``);
- ``loop``: 1 when one identical call failed ``loop_threshold`` (3) times or more;
- ``final_answer``: 1/0 when the gold has one, else null: every gold string must appear
  (case folded; commas removed from the model's text) in some assistant message, as
  tau-bench checks its ``outputs``.

pass^k across epochs is :func:`pass_hat_k` (tau-bench's estimator).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nullband._canonical import canonical_json
from nullband.errors import StatsError
from nullband.records import Record
from nullband.score.base import ScoreResult
from nullband.score.normalize import DateOrder, NormalizeOptions, norm_text
from nullband.score.toolcalls.argf1 import Tally
from nullband.score.toolcalls.gold import GoldCall
from nullband.score.toolcalls.match import GoldShapeError, compile_gold
from nullband.score.toolcalls.parse import PredCall, decode_call, tool_schemas
from nullband.suite.case import Case

DEFAULT_ERROR_PATTERN = r"^\s*(error\b|unknown action)"


@dataclass(frozen=True, slots=True)
class TakenCall:
    """One tool call of a transcript with its result."""

    call: PredCall
    result: str | None
    error: bool

    @property
    def key(self) -> str:
        """Identity for repeat detection: name + normalised arguments."""
        return call_key(self.call.name, self.call.args)


def _norm_value(v: Any) -> Any:
    if isinstance(v, str):
        return " ".join(v.split())
    if isinstance(v, dict):
        return {k: _norm_value(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_norm_value(x) for x in v]
    return v


def call_key(name: str, args: dict[str, Any] | None, raw: str | None = None) -> str:
    """A call's identity: its name and canonical JSON of its arguments, with the
    whitespace in strings collapsed (keys sorted, so key order does not matter)."""
    if args is None:
        return f"{name}\x00raw:{(raw or '').strip()}"
    return f"{name}\x00" + canonical_json(_norm_value(args)).decode()


def transcript_calls(
    messages: Sequence[dict[str, Any]], error_re: re.Pattern[str]
) -> tuple[list[TakenCall], list[str]]:
    """The tool calls of a transcript in order, with their results, and the text of every
    assistant message."""
    # Ids are paired in order: some recorders reuse a call id within one transcript, so a
    # result belongs to the earliest call with that id that has no result yet.
    raw: list[tuple[dict[str, Any], list[str | None]]] = []
    pending: dict[str, list[int]] = {}
    texts: list[str] = []
    for m in messages:
        role = m.get("role")
        if role == "assistant":
            content = m.get("content")
            if isinstance(content, str) and content:
                texts.append(content)
            for tc in m.get("tool_calls") or []:
                pending.setdefault(str(tc.get("id")), []).append(len(raw))
                raw.append((tc, [None]))
        elif role == "tool":
            queue = pending.get(str(m.get("tool_call_id")))
            if queue:
                content = m.get("content")
                raw[queue.pop(0)][1][0] = content if isinstance(content, str) else str(content)
    calls: list[TakenCall] = []
    for tc, (result,) in raw:
        err = result is not None and error_re.search(result) is not None
        calls.append(TakenCall(decode_call(tc), result, err))
    return calls, texts


def recovery_events(calls: Sequence[TakenCall]) -> list[tuple[str, bool]]:
    """One (tool, recovered) per tool result that is an error: recovered when the next
    call is not an identical repeat and a later call of the same tool returns a
    non-error result."""
    events: list[tuple[str, bool]] = []
    for i, c in enumerate(calls):
        if not c.error:
            continue
        name = c.call.name
        ok = (
            i + 1 < len(calls)
            and calls[i + 1].key != c.key
            and any(
                x.call.name == name and x.result is not None and not x.error for x in calls[i + 1 :]
            )
        )
        events.append((name, ok))
    return events


def recovery(calls: Sequence[TakenCall]) -> tuple[int, int]:
    """(recovered, errors) over a transcript's tool errors (see :func:`recovery_events`)."""
    events = recovery_events(calls)
    return sum(ok for _, ok in events), len(events)


def has_loop(calls: Sequence[TakenCall], threshold: int = 3) -> bool:
    """Whether one identical call failed ``threshold`` times or more."""
    counts = Counter(c.key for c in calls if c.error)
    return any(n >= threshold for n in counts.values())


def pass_hat_k(successes: Sequence[tuple[int, int]], k: int) -> float:
    """tau-bench's pass^k: mean over tasks of C(c, k) / C(n, k).

    Args:
        successes: per task, (c successes, n trials).
        k: trials that must all succeed.

    Raises:
        StatsError: no tasks, k < 1, or a task with fewer than k trials.
    """
    if k < 1:
        raise StatsError(f"pass^k needs k >= 1, got {k}")
    if not successes:
        raise StatsError("pass^k needs at least one task")
    short = [n for _, n in successes if n < k]
    if short:
        raise StatsError(
            f"pass^{k} needs at least {k} trials per task; {len(short)} task(s) have fewer "
            f"(min {min(short)})",
            hint="run more epochs or lower k",
        )
    return sum(math.comb(c, k) / math.comb(n, k) for c, n in successes) / len(successes)


def gold_parts(expected: Any) -> tuple[list[dict[str, Any]], Any, int | None]:
    if isinstance(expected, dict) and "steps" in expected:
        steps, final, min_steps = (
            expected["steps"],
            expected.get("final_answer"),
            expected.get("min_steps"),
        )
    elif isinstance(expected, list):
        steps, final, min_steps = expected, None, None
    else:
        raise GoldShapeError("trajectory gold must be {'steps': [...]} or a list of steps")
    calls: list[dict[str, Any]] = []
    for step in steps:
        calls.extend(step if isinstance(step, list) else [step])
    return calls, final, min_steps if isinstance(min_steps, int) else None


def align(
    gold: list[GoldCall], taken: list[TakenCall], opts: NormalizeOptions
) -> list[tuple[int, int, Tally | None]]:
    """Monotone alignment of taken calls to gold calls maximising (right tool + arg F1).

    Returns (gold index, taken index, tally) for aligned right-tool pairs.
    """
    from nullband.score.toolcalls.argf1 import score_args

    n, m = len(gold), len(taken)
    pair: dict[tuple[int, int], tuple[float, Tally | None]] = {}
    for i, g in enumerate(gold):
        for j, t in enumerate(taken):
            if t.call.name == g.name:
                tally = score_args(g.args, t.call.args, opts) if t.call.args is not None else None
                pair[i, j] = (1.0 + (tally.f1 if tally else 0.0), tally)
    best = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            s = pair.get((i, j))
            diag = best[i + 1][j + 1] + s[0] if s else -1.0
            best[i][j] = max(best[i + 1][j], best[i][j + 1], diag)
    out: list[tuple[int, int, Tally | None]] = []
    i = j = 0
    while i < n and j < m:
        s = pair.get((i, j))
        if s and best[i][j] == best[i + 1][j + 1] + s[0]:
            out.append((i, j, s[1]))
            i += 1
            j += 1
        elif best[i][j] == best[i + 1][j]:
            i += 1
        else:
            j += 1
    return out


def answer_matches(gold: Any, texts: Sequence[str]) -> bool:
    """Every gold string is contained (case folded) in some assistant text with its
    commas removed, as tau-bench checks ``outputs``."""
    wanted = gold if isinstance(gold, list) else [gold]
    folded = [norm_text(t.replace(",", "")) for t in texts]
    return all(any(norm_text(str(w)) in t for t in folded) for w in wanted)


class TrajectoryScorer:
    """Multi-step trajectory signals (see the module docs); passes when every gold call is
    matched in order with exact arguments and the final answer (if any) matches.

    Options: ``error_pattern`` (regex marking a tool result as an error), ``loop_threshold``,
    ``date_order``, ``aliases``, ``name`` (default "trajectory").
    """

    def __init__(
        self,
        *,
        name: str = "trajectory",
        error_pattern: str = DEFAULT_ERROR_PATTERN,
        loop_threshold: int = 3,
        date_order: DateOrder = "MDY",
        aliases: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.error_re = re.compile(error_pattern, re.IGNORECASE)
        self.loop_threshold = loop_threshold
        self.options = NormalizeOptions(date_order=date_order, aliases=dict(aliases or {}))

    def taken(self, record: Record) -> tuple[list[TakenCall], list[str]]:
        """The record's tool calls with results, and its assistant texts."""
        if record.messages:
            return transcript_calls(record.messages, self.error_re)
        calls = [TakenCall(decode_call(tc), None, False) for tc in record.tool_calls]
        return calls, [record.output_text] if record.output_text else []

    def score(self, case: Case, record: Record) -> ScoreResult:
        """Score one record's trajectory."""
        try:
            gold_dicts, final_gold, min_steps = gold_parts(case.expected)
            gold = (
                compile_gold(gold_dicts, tool_schemas(case.tools), self.options)
                if gold_dicts
                else []
            )
        except GoldShapeError as exc:
            return ScoreResult(reason=f"case {case.id!r}: {exc}")
        taken, texts = self.taken(record)
        aligned = align(gold, taken, self.options)
        rec, errs = recovery(taken)
        f1s = [t.f1 if t is not None else 0.0 for _, _, t in aligned]
        values: dict[str, float | None] = {
            "traj_selection": len(aligned) / len(gold) if gold else (1.0 if not taken else 0.0),
            "traj_arg_f1": sum(f1s) / len(f1s) if f1s else None,
            "recovery": rec / errs if errs else None,
            "length_delta": float(len(taken) - (min_steps if min_steps is not None else len(gold))),
            "loop": 1.0 if has_loop(taken, self.loop_threshold) else 0.0,
            "final_answer": None
            if final_gold is None
            else float(answer_matches(final_gold, texts)),
        }
        exact = len(aligned) == len(gold) and all(t is not None and t.exact for _, _, t in aligned)
        passed = exact and values["final_answer"] != 0.0
        reasons = []
        if not exact:
            reasons.append(
                f"{len(gold) - len(aligned)} of {len(gold)} gold calls not matched in order"
                if len(aligned) < len(gold)
                else "arguments differ on an aligned call"
            )
        if values["final_answer"] == 0.0:
            reasons.append("final answer does not contain the gold answer")
        if values["loop"]:
            reasons.append("loop: one failing call repeated")
        malformed = [t.call.error for t in taken if t.call.error]
        if malformed:
            reasons.append(f"malformed: {malformed[0]}")
        return ScoreResult(values=values, passed=passed, reason="; ".join(reasons) or None)
