"""``recovery_judge``: an LLM judge decides whether each step after a tool error makes sense.

The rule-based ``recovery`` signal of the ``trajectory`` scorer counts an error as
recovered when the next call is not an identical repeat and the tool later succeeds. Some
teams prefer a judge's reading of "does the next step make sense given the error"; this
scorer asks one judge target, once per tool error of a transcript, with the failed call,
the error text and what the agent did next, and reads the last YES or NO of the reply.

Values: ``recovery_judged`` = YES answers / readable answers (null when the transcript
has no tool error or no answer could be read; the reason says how many were unreadable).
Judges disagree with people (the field notes report about 8%); audit the judge before
gating on it.

Config::

    scorers:
      - name: recovery_judge
        options:
          judge: {name: j, base_url: http://gw/v1, model: openai/gpt-4o-2024-11-20}
"""

from __future__ import annotations

import re
from typing import Any

from nullband.records import Record
from nullband.score.base import ScoreResult
from nullband.score.trajectory import DEFAULT_ERROR_PATTERN
from nullband.suite.case import Case
from nullband.targets.config import TargetConfig

PROMPT = (
    "An AI agent called a tool and the tool returned an error.\n\n"
    "Failed call: {name}({arguments})\nError: {error}\n\n"
    "What the agent did next: {next}\n\n"
    "Is the agent's next step a sensible response to the error (a corrected call, a "
    "different approach, or asking the user for missing information), rather than "
    "repeating the same failing call or ignoring the error? Answer YES or NO."
)
_VERDICT = re.compile(r"\b(YES|NO)\b", re.IGNORECASE)


def error_events(messages: list[dict[str, Any]], error_re: re.Pattern[str]) -> list[dict[str, str]]:
    """Per tool error: the failed call, the error text and the agent's next step in words."""
    events: list[dict[str, str]] = []
    pending: dict[str, list[tuple[str, str]]] = {}
    for i, m in enumerate(messages):
        if m.get("role") == "assistant":
            for tc in m.get("tool_calls") or []:
                fn = tc.get("function", {})
                pending.setdefault(str(tc.get("id")), []).append(
                    (str(fn.get("name")), str(fn.get("arguments", "")))
                )
        elif m.get("role") == "tool":
            queue = pending.get(str(m.get("tool_call_id")))
            if not queue:
                continue
            name, args = queue.pop(0)
            content = str(m.get("content") or "")
            if error_re.search(content):
                events.append(
                    {
                        "name": name,
                        "arguments": args,
                        "error": content[:2000],
                        "next": _next_step(messages[i + 1 :]),
                    }
                )
    return events


def _next_step(rest: list[dict[str, Any]]) -> str:
    for m in rest:
        if m.get("role") != "assistant":
            continue
        calls = [
            f"called {tc.get('function', {}).get('name')}({tc.get('function', {}).get('arguments')})"
            for tc in m.get("tool_calls") or []
        ]
        text = m.get("content")
        parts = [*calls, f"said: {text[:1000]}" if isinstance(text, str) and text else ""]
        return "; ".join(p for p in parts if p) or "(an empty message)"
    return "(nothing: the transcript ends here)"


def parse_verdict(text: str | None) -> bool | None:
    """The last YES/NO of a reply (None when there is none)."""
    found = _VERDICT.findall(text or "")
    return None if not found else found[-1].upper() == "YES"


class RecoveryJudgeScorer:
    """Judge-decided recovery after tool errors (see the module docs).

    Options: ``judge`` (a target config: name, base_url, model, ...), ``error_pattern``,
    ``prompt`` (with ``{name}``, ``{arguments}``, ``{error}``, ``{next}``), ``name``.
    """

    def __init__(
        self,
        *,
        judge: dict[str, Any],
        name: str = "recovery_judge",
        error_pattern: str = DEFAULT_ERROR_PATTERN,
        prompt: str = PROMPT,
    ) -> None:
        self.name = name
        self.judge = TargetConfig.model_validate(judge)
        self.error_re = re.compile(error_pattern, re.IGNORECASE)
        self.prompt = prompt

    async def ascore(self, case: Case, record: Record) -> ScoreResult:
        """Ask the judge about every tool error of the record's transcript."""
        from nullband.targets.client import TargetClient

        events = error_events(record.messages or [], self.error_re)
        if not events:
            return ScoreResult(values={"recovery_judged": None}, reason="no tool error to judge")
        verdicts: list[bool] = []
        problems: list[str] = []
        async with TargetClient(self.judge) as client:
            for k, ev in enumerate(events):
                msg = [{"role": "user", "content": self.prompt.format(**ev)}]
                out = await client.chat(
                    msg, case_key=f"{case.id}/judge/{record.epoch}/{k}", params={"temperature": 0}
                )
                verdict = parse_verdict(out.output_text) if out.status == "ok" else None
                if verdict is None:
                    problems.append(out.error or f"no YES/NO in {str(out.output_text)[:60]!r}")
                else:
                    verdicts.append(verdict)
        value = sum(verdicts) / len(verdicts) if verdicts else None
        reason = None
        if problems:
            reason = f"{len(problems)} of {len(events)} judge answers unreadable: {problems[0]}"
        return ScoreResult(values={"recovery_judged": value}, reason=reason)
