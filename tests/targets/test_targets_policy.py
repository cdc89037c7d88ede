"""Retry classification and backoff, Retry-After parsing, budget bounds, alias lint, rpm."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nullband.config.models import EvalConfig, RetryConfig
from nullband.targets.alias import floating_reason, lint_aliases
from nullband.targets.budget import Budget, BudgetExceeded
from nullband.targets.ratelimit import RateLimiter
from nullband.targets.retry import Backoff, classify_status, parse_retry_after


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (429, ("rate_limit", True)),
        (408, ("timeout", True)),
        (409, ("client", True)),
        (500, ("server", True)),
        (503, ("server", True)),
        (400, ("client", False)),
        (401, ("client", False)),
        (404, ("client", False)),
        (422, ("client", False)),
    ],
)
def test_classify_status(status: int, expected: tuple[str, bool]) -> None:
    assert classify_status(status) == expected


def test_retry_after_seconds_and_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("2.5") == 2.5
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30)), now=now) == 30.0
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30)), now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("99999") == 600.0  # capped at ten minutes


def test_backoff_is_exponential_bounded_seeded_and_respects_retry_after() -> None:
    cfg = RetryConfig(base_delay_s=0.5, max_delay_s=4.0, jitter=0.5)
    a = [Backoff(cfg, seed=7).delay(n) for n in range(1, 8)]
    b = [Backoff(cfg, seed=7).delay(n) for n in range(1, 8)]
    assert a == b  # same seed, same waits
    assert a != [Backoff(cfg, seed=8).delay(n) for n in range(1, 8)]
    for n, d in enumerate(a, start=1):
        raw = min(4.0, 0.5 * 2 ** (n - 1))
        assert raw * 0.5 <= d <= raw  # jitter removes at most half
    assert Backoff(cfg).delay(1, retry_after_s=10.0) >= 10.0


@given(
    costs=st.lists(st.floats(min_value=0.0, max_value=2.0), min_size=1, max_size=200),
    cap=st.floats(min_value=0.5, max_value=50.0),
    concurrency=st.integers(min_value=1, max_value=16),
    seed=st.integers(min_value=0, max_value=1000),
)
def test_budget_overshoot_is_bounded(
    costs: list[float], cap: float, concurrency: int, seed: int
) -> None:
    """Simulate calls starting and ending in random order with at most ``concurrency`` in
    flight; the final spend never exceeds cap + concurrency x largest call cost."""
    rng = random.Random(seed)
    budget = Budget(usd=cap)
    queue = list(costs)
    in_flight: list[tuple[object, float]] = []
    stopped = False
    while queue or in_flight:
        can_start = queue and not stopped and len(in_flight) < concurrency
        if can_start and (not in_flight or rng.random() < 0.5):
            try:
                in_flight.append((budget.reserve(), queue.pop(0)))
            except BudgetExceeded:
                # refused only when settled spend plus open reservations reached the cap
                assert budget.spent_usd + budget.reserved_usd >= cap
                stopped = True
        elif in_flight:
            res, cost = in_flight.pop(rng.randrange(len(in_flight)))
            budget.settle(res, usd=cost, tokens=0)  # type: ignore[arg-type]
        else:
            break
    assert budget.spent_usd <= cap + concurrency * max(costs) + 1e-9
    if not stopped:
        assert budget.spent_usd == pytest.approx(sum(costs))  # nothing refused, all charged


def test_budget_tokens_cap_and_resume_start() -> None:
    b = Budget(tokens=100, spent_tokens=90)
    r = b.reserve()
    b.settle(r, usd=0.0, tokens=20)
    assert b.exhausted
    with pytest.raises(BudgetExceeded, match="110 of 100 tokens"):
        b.reserve()


@pytest.mark.parametrize(
    ("model", "floating"),
    [
        ("gpt-4o", True),
        ("gpt-4o-mini", True),
        ("llama3", True),
        ("claude-3-5-sonnet-latest", True),
        ("llama3:latest", True),
        ("qwen2.5-7b-instruct", True),
        ("gpt-4o-2024-08-06", False),
        ("openai/gpt-4o-mini-2024-07-18", False),
        ("claude-3-5-sonnet-20241022", False),
        ("gpt-4-0613", False),
        ("mistral-large-2407", False),
        ("gemini-1.5-pro-002", False),
        ("acme-agent-2026-05-01", False),
        ("org/model@sha256:0123456789abcdef", False),
    ],
)
def test_floating_alias_heuristic(model: str, floating: bool) -> None:
    assert (floating_reason(model) is not None) is floating


def test_alias_lint_allow_lists() -> None:
    def cfg(**kw: object) -> EvalConfig:
        t = {"name": "a", "base_url": "http://127.0.0.1:1/v1", "model": "gpt-4o"}
        return EvalConfig.model_validate({"suite": "s.jsonl", "targets": [{**t, **kw}]})

    assert [w.model for w in lint_aliases(cfg())] == ["gpt-4o"]
    assert "alias_allow" in lint_aliases(cfg())[0].message()
    assert lint_aliases(cfg(allow_alias=True)) == []
    allowed = cfg().model_copy(update={"alias_allow": ["gpt-4o"]})
    assert lint_aliases(allowed) == []


def test_rate_limiter_paces_requests() -> None:
    async def go() -> float:
        lim = RateLimiter(rpm=1200, burst=1)  # 20 per second, no burst
        t0 = time.perf_counter()
        for _ in range(11):
            await lim.acquire()
        return time.perf_counter() - t0

    elapsed = asyncio.run(go())
    # 11 requests at 20/s: the first is free, the other 10 need 0.5 s (timer slack above).
    assert 0.45 <= elapsed <= 1.5
