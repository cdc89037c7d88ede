"""A scripted judge with a known position bias and noise, and audit item writers."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nullband.testserver import Reply, ServerRequest

_A = re.compile(r"<answer_a>\s*(.*?)\s*</answer_a>", re.S)
_B = re.compile(r"<answer_b>\s*(.*?)\s*</answer_b>", re.S)
_ANSWER = re.compile(r"<answer>\s*(.*?)\s*</answer>", re.S)


@dataclass
class ScriptedJudge:
    """A judge whose behaviour is known exactly.

    Pairwise: with probability ``first_bias`` it names the first answer shown, whatever it
    says; otherwise it names the truly better answer (the one containing "GOOD"), except
    with probability ``noise`` it names the other one. Each call draws from a generator
    seeded by (seed, case key), so the result does not depend on the order of arrival.

    Rubric: answers contain "grade=N"; the judge replies with N, or with probability
    ``noise`` with N+1 (capped at 5). ``garble`` is a share of replies with no grade at all.
    """

    first_bias: float = 0.0
    noise: float = 0.0
    seed: int = 0
    garble: float = 0.0
    calls: int = 0
    keys: list[str] = field(default_factory=list)
    replies: dict[str, str] = field(default_factory=dict)

    def _rng(self, key: str | None) -> np.random.Generator:
        digest = hashlib.sha256(f"{self.seed}|{key}".encode()).digest()
        return np.random.default_rng(int.from_bytes(digest[:8], "little"))

    def __call__(self, req: ServerRequest) -> Reply:
        reply = self._answer(req)
        self.calls += 1
        self.keys.append(req.case_key or "")
        self.replies[req.case_key or ""] = reply.content or ""
        return reply

    def _answer(self, req: ServerRequest) -> Reply:
        rng = self._rng(req.case_key)
        text = req.last_user_text
        if rng.random() < self.garble:
            return Reply(content="I am not sure how to rate this one.")
        a, b = _A.search(text), _B.search(text)
        if a and b:
            if rng.random() < self.first_bias:
                return Reply(content="The first one reads better. [[A]]")
            better = "A" if "GOOD" in a.group(1) else "B"
            if rng.random() < self.noise:
                better = "B" if better == "A" else "A"
            return Reply(content=f"Comparing the two... Verdict: [[{better}]]")
        m = _ANSWER.search(text)
        grade = 3
        if m and (g := re.search(r"grade=(\d)", m.group(1))):
            grade = int(g.group(1))
        if rng.random() < self.noise:
            grade = min(5, grade + 1)
        return Reply(content=f'Reasoning here. {{"score": {grade}}}')


def write_pairwise_items(path: Path, n: int, *, human_noise: float = 0.0, seed: int = 0) -> None:
    """n pairwise items; the candidate is better on even items; humans label the truth,
    except a ``human_noise`` share labelled 'tie'."""
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(n):
        cand_good = i % 2 == 0
        truth = "candidate" if cand_good else "reference"
        human = "tie" if rng.random() < human_noise else truth
        lines.append(
            json.dumps(
                {
                    "id": f"item-{i:03d}",
                    "prompt": f"Question {i}?",
                    "candidate": f"answer {i} {'GOOD' if cand_good else 'BAD'} c",
                    "reference": f"answer {i} {'BAD' if cand_good else 'GOOD'} r",
                    "human": human,
                }
            )
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
