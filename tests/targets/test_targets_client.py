"""TargetClient against the real test server (and a tiny echoing server) on loopback."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from aiohttp import web

from nullband.config.models import RetryConfig
from nullband.targets.budget import Budget, BudgetExceeded
from nullband.targets.client import TargetClient
from nullband.targets.config import Prices, TargetConfig
from nullband.testserver.reply import Reply, ServerRequest
from nullband.testserver.server import TestServer

pytestmark = pytest.mark.anyio

FAST = RetryConfig(max_attempts=4, base_delay_s=0.001, max_delay_s=0.01)
SECRET = "sk-test-DO-NOT-LEAK-7f3a9c"
MSG = [{"role": "user", "content": "hello there"}]


def target(base_url: str, **kw: Any) -> TargetConfig:
    fields: dict[str, Any] = {
        "name": "t",
        "base_url": base_url,
        "model": "m-2025-01-01",
        "timeout_s": 2.0,
        **kw,
    }
    return TargetConfig.model_validate(fields)


async def test_ok_call_records_usage_cost_provenance_and_case_header() -> None:
    prices = Prices(input_per_mtok=1_000_000.0, output_per_mtok=2_000_000.0)
    async with (
        TestServer({"fingerprint": "fp_1"}) as srv,
        TargetClient(target(srv.base_url, prices=prices), FAST) as c,
    ):
        out = await c.chat(MSG, case_key="c1/t/0")
        assert srv.stats.requests("c1/t/0") == 1  # the case header reached the server
    assert out.status == "ok"
    assert out.output_text == "hello there"  # the test server echoes the last user message
    assert out.provenance.served == "m-2025-01-01"
    assert out.provenance.fingerprint == "fp_1"
    assert out.provenance.mismatch is False
    assert out.usage.output_tokens == 2  # "hello", " there" with the words tokenizer
    # 1 USD per input token and 2 per output token: cost is exact arithmetic on usage.
    assert out.cost_usd == pytest.approx(out.usage.input_tokens + 2 * out.usage.output_tokens)
    assert len(out.attempts) == 1
    assert out.attempts[0].status == 200


async def test_streaming_records_ttft_and_tool_calls() -> None:
    def responder(req: ServerRequest) -> Reply:
        return Reply(tool_calls=[{"name": "lookup", "arguments": {"q": "x"}, "id": "call_1"}])

    cfg = {"latency": {"ttft_s": 0.15, "per_token_s": 0.01}}
    async with (
        TestServer(cfg, responder=responder) as srv,
        TargetClient(target(srv.base_url, stream=True), FAST) as c,
    ):
        out = await c.chat(MSG, tools=[{"type": "function", "function": {"name": "lookup"}}])
    assert out.status == "ok"
    assert [t.name for t in out.tool_calls] == ["lookup"]
    assert json.loads(out.tool_calls[0].arguments) == {"q": "x"}
    assert out.tool_calls[0].id == "call_1"
    assert out.finish_reason == "tool_calls"
    assert out.ttft_s is not None
    assert out.latency_s is not None
    assert 0.15 <= out.ttft_s <= out.latency_s  # the server waits 150 ms before the first chunk
    assert out.usage.output_tokens > 0  # usage arrives in the last chunk (include_usage)


async def test_429_retry_after_is_honoured_and_every_attempt_recorded() -> None:
    cfg = {"faults": {"rate_429": 1.0, "retry_after_s": 0.2}}
    async with TestServer(cfg) as srv, TargetClient(target(srv.base_url), FAST) as c:
        t0 = time.perf_counter()
        out = await c.chat(MSG, case_key="k/t/0")
        elapsed = time.perf_counter() - t0
        assert srv.stats.requests("k/t/0") == 4
    assert out.status == "error"
    assert out.error_class == "rate_limit"
    assert [a.n for a in out.attempts] == [1, 2, 3, 4]
    assert all(a.status == 429 and a.retry_after_s == pytest.approx(0.2) for a in out.attempts)
    # Three waits of at least Retry-After (0.2 s), although the backoff alone is <= 10 ms.
    assert elapsed >= 0.6


@pytest.mark.parametrize(("status", "attempts"), [(400, 1), (404, 1), (409, 4), (503, 4)])
async def test_which_statuses_are_retried(status: int, attempts: int) -> None:
    async with (
        TestServer(responder=lambda req: Reply(status=status)) as srv,
        TargetClient(target(srv.base_url), FAST) as c,
    ):
        out = await c.chat(MSG)
    assert out.status == "error"
    assert len(out.attempts) == attempts
    assert out.attempts[-1].status == status


async def test_each_fault_kind_is_classified_and_retried() -> None:
    # Each fault kind at rate 1: every attempt fails, each with the right class.
    kinds = ["rate_429", "rate_500", "rate_malformed", "rate_reset", "rate_timeout"]
    for kind in kinds:
        cfg = {"faults": {kind: 1.0, "retry_after_s": 0.0, "hang_s": 5.0}}
        async with (
            TestServer(cfg) as srv,
            TargetClient(target(srv.base_url, timeout_s=0.3), FAST) as c,
        ):
            out = await c.chat(MSG, case_key=f"{kind}/t/0")
        expected = {
            "rate_429": "rate_limit",
            "rate_500": "server",
            "rate_malformed": "malformed",
            "rate_reset": "connection",
            "rate_timeout": "timeout",
        }[kind]
        assert out.status == "error", kind
        assert {a.error_class for a in out.attempts} == {expected}, kind
        assert len(out.attempts) == FAST.max_attempts, kind


async def test_mixed_faults_end_in_success_with_same_model() -> None:
    cfg = {
        "served_model": "m-2025-01-01",
        "faults": {
            "rate_429": 0.2,
            "rate_500": 0.2,
            "rate_malformed": 0.1,
            "rate_reset": 0.1,
            "retry_after_s": 0.0,
            "seed": 5,
        },
    }
    retry = RetryConfig(max_attempts=12, base_delay_s=0.001, max_delay_s=0.005)
    async with TestServer(cfg) as srv, TargetClient(target(srv.base_url), retry) as c:
        outs = await asyncio.gather(*(c.chat(MSG, case_key=f"c{i}/t/0") for i in range(60)))
        after = srv.stats.after_success()
    assert all(o.status == "ok" for o in outs)
    assert sum(len(o.attempts) > 1 for o in outs) > 5  # faults did happen (60% fault rate)
    assert all(o.provenance.requested == o.provenance.served == "m-2025-01-01" for o in outs)
    assert not any(after.values())  # no key was called again after it succeeded


async def test_served_model_mismatch_is_flagged_not_retried() -> None:
    async with (
        TestServer({"served_model": "m-2025-06-01"}) as srv,
        TargetClient(target(srv.base_url), FAST) as c,
    ):
        out = await c.chat(MSG)
    assert out.status == "ok"
    assert out.provenance.mismatch is True
    assert out.provenance.served == "m-2025-06-01"
    assert len(out.attempts) == 1


@pytest.mark.parametrize("style", ["bifrost", "litellm", "portkey"])
async def test_gateway_provenance_fallback_and_cache_bypass(style: str) -> None:
    cfg = {
        "gateway": {
            "style": style,
            "provider": "prov-a",
            "fallback_rate": 1.0,
            "fallback_provider": "prov-b",
            "fallback_model": "other-2025-01-01",
            "cache_hit_rate": 1.0,
        }
    }
    async with TestServer(cfg) as srv:
        t = target(srv.base_url, gateway=style, model="openai/m-2025-01-01")
        async with TargetClient(t, FAST) as c:
            out = await c.chat(MSG)
    prov = out.provenance
    assert out.status == "ok"
    assert prov.fallback is True  # every request is served by the fallback
    assert prov.served == "other-2025-01-01"
    assert prov.mismatch is True
    # Our profile asks each gateway not to cache: although the server would answer every
    # cacheable request from its cache, none of ours was.
    assert prov.cache in {"bypass", "miss"}
    if style == "bifrost":
        assert prov.provider == "prov-b"
        assert prov.routed == "other-2025-01-01"


async def test_gateway_no_fallback_no_mismatch_with_provider_prefix() -> None:
    cfg = {"gateway": {"style": "bifrost", "provider": "openai"}}
    async with TestServer(cfg) as srv:
        t = target(srv.base_url, gateway="bifrost", model="openai/m-2025-01-01")
        async with TargetClient(t, FAST) as c:
            out = await c.chat(MSG)
    assert out.provenance.fallback is False
    assert out.provenance.provider == "openai"
    assert out.provenance.served == "m-2025-01-01"
    assert out.provenance.mismatch is False  # provider/ prefix stripped before comparing


async def test_budget_refuses_new_calls_once_reached() -> None:
    prices = Prices(input_per_mtok=0.0, output_per_mtok=1_000_000.0)  # 1 USD per output token
    budget = Budget(usd=3.0)
    async with (
        TestServer() as srv,
        TargetClient(target(srv.base_url, prices=prices), FAST, budget) as c,
    ):
        await c.chat(MSG)  # 2 output tokens -> 2 USD
        await c.chat(MSG)  # starts (2 < 3), ends at 4 USD
        with pytest.raises(BudgetExceeded):
            await c.chat(MSG)
    assert budget.spent_usd == pytest.approx(4.0)


# -- secrets --------------------------------------------------------------------------


async def _echo_auth(request: web.Request) -> web.Response:
    # A misbehaving server that echoes the credential back in its error body.
    auth = request.headers.get("Authorization", "")
    return web.Response(status=400, text=f'{{"error": "bad key {auth}"}}')


async def test_key_goes_only_into_authorization_and_never_into_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NB_SECRET_KEY", SECRET)
    seen: list[str] = []

    async def echo(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        return await _echo_auth(request)

    app = web.Application()
    app.router.add_post("/v1/chat/completions", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        t = target(f"http://127.0.0.1:{port}/v1", api_key_env="NB_SECRET_KEY")
        async with TargetClient(t, FAST) as c:
            out = await c.chat(MSG)
    finally:
        await runner.cleanup()
    assert seen == [f"Bearer {SECRET}"]
    assert out.status == "error"
    assert out.error_class == "client"
    blob = repr(out) + (out.error or "") + "".join(a.error or "" for a in out.attempts)
    assert SECRET not in blob
    assert "[redacted]" in (out.error or "")


async def test_unset_key_variable_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from nullband.errors import UsageError

    monkeypatch.delenv("NB_UNSET_KEY", raising=False)
    t = target("http://127.0.0.1:9/v1", api_key_env="NB_UNSET_KEY")
    with pytest.raises(UsageError, match="NB_UNSET_KEY is not set"):
        async with TargetClient(t):
            pass


async def test_connection_refused_is_a_connection_error() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on (bound, never listening)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        async with TargetClient(target(f"http://127.0.0.1:{port}/v1"), FAST) as c:
            out = await c.chat(MSG)
    assert out.status == "error"
    assert out.error_class == "connection"
    assert len(out.attempts) == FAST.max_attempts
