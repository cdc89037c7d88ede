"""Output-length rules of the test server, checked for any text and any length settings."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from nullband.testserver import Reply, ServerConfig
from nullband.testserver.app import Plan
from nullband.testserver.tokens import count_tokens

CFG = ServerConfig()
words = st.lists(st.sampled_from(["a", "bb", "ccc", "dé", "4", "{", "}"]), max_size=30)
limits = st.none() | st.integers(min_value=0, max_value=60)


@settings(max_examples=300, deadline=None)
@given(
    parts=words,
    max_tokens=limits,
    min_tokens=limits,
    ignore_eos=st.booleans(),
)
def test_lengths_follow_the_rules(
    parts: list[str], max_tokens: int | None, min_tokens: int | None, ignore_eos: bool
) -> None:
    text = " ".join(parts)
    natural = count_tokens(text, "words")
    body: dict[str, Any] = {"ignore_eos": ignore_eos}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if min_tokens is not None:
        body["min_tokens"] = min_tokens
    plan = Plan(Reply(content=text), body, CFG, 0)
    n = plan.completion_tokens
    # The rules, written independently of the implementation:
    if ignore_eos and max_tokens is not None:
        expected = max_tokens
    else:
        expected = max(natural, min_tokens or 0)
        if max_tokens is not None:
            expected = min(expected, max_tokens)
    assert n == expected
    assert len(plan.pieces) == n
    # The text sent is a prefix of the reply, or the reply followed by filler tokens.
    sent = plan.text or ""
    assert sent.startswith(text) or text.startswith(sent)
    cut = n < natural
    assert plan.finish_reason == (
        "length" if cut or (ignore_eos and max_tokens is not None) else "stop"
    )
