"""Fault injection of the test server, seen by a real aiohttp client."""

from __future__ import annotations

import asyncio
from collections import Counter

import aiohttp
import orjson
import pytest
from scipy.stats import binomtest
from ts_helpers import chat_body, post_chat

from nullband.testserver import TestServer


def _only(kind: str, **extra: float) -> dict[str, object]:
    return {"faults": {f"rate_{kind}": 1.0, "seed": 1, **extra}}


def test_429_carries_retry_after() -> None:
    async def main() -> None:
        async with TestServer(_only("429", retry_after_s=2.5)) as srv, aiohttp.ClientSession() as s:
            status, body, headers = await post_chat(s, srv.base_url, chat_body(), "c/t/0")
            assert status == 429
            assert headers["Retry-After"] == "2.5"
            assert headers["retry-after-ms"] == "2500"
            assert body["error"]["type"] == "rate_limit_error"
            assert srv.stats.successes("c/t/0") == 0
            assert srv.stats.snapshot()["faults"] == {"429": 1}

    asyncio.run(main())


@pytest.mark.parametrize("code", ["500", "503"])
def test_5xx(code: str) -> None:
    async def main() -> None:
        async with TestServer(_only(code)) as srv, aiohttp.ClientSession() as s:
            status, body, _ = await post_chat(s, srv.base_url, chat_body())
            assert status == int(code)
            assert "error" in body

    asyncio.run(main())


def test_timeout_hangs_past_the_client_timeout() -> None:
    async def main() -> None:
        async with TestServer(_only("timeout", hang_s=30.0)) as srv:
            timeout = aiohttp.ClientTimeout(total=0.3)
            async with aiohttp.ClientSession(timeout=timeout) as s:
                with pytest.raises(asyncio.TimeoutError):
                    await post_chat(s, srv.base_url, chat_body())
        # Leaving the block released the hanging handler instead of waiting 30 s.

    asyncio.run(asyncio.wait_for(main(), 10))


def test_reset_drops_the_connection() -> None:
    async def main() -> None:
        async with TestServer(_only("reset")) as srv, aiohttp.ClientSession() as s:
            with pytest.raises(aiohttp.ClientConnectionError):
                await post_chat(s, srv.base_url, chat_body())

    asyncio.run(main())


def test_malformed_body_is_200_but_not_json() -> None:
    async def main() -> None:
        async with TestServer(_only("malformed")) as srv, aiohttp.ClientSession() as s:
            async with s.post(f"{srv.base_url}/chat/completions", json=chat_body()) as r:
                assert r.status == 200
                raw = await r.read()
            with pytest.raises(orjson.JSONDecodeError):
                orjson.loads(raw)
            assert srv.stats.total_successes == 0

    asyncio.run(main())


def test_truncated_json_and_stream() -> None:
    async def main() -> None:
        cfg = _only("truncate")
        cfg["default_content"] = "one two three four five six seven eight"
        async with TestServer(cfg) as srv, aiohttp.ClientSession() as s:
            with pytest.raises(aiohttp.ClientPayloadError):
                async with s.post(f"{srv.base_url}/chat/completions", json=chat_body()) as r:
                    await r.read()
            lines: list[bytes] = []

            async def read_all() -> None:
                body = chat_body(stream=True)
                async with s.post(f"{srv.base_url}/chat/completions", json=body) as r:
                    async for line in r.content:
                        lines.append(line)

            with pytest.raises(aiohttp.ClientPayloadError):
                await read_all()
            data = [x for x in lines if x.startswith(b"data: ")]
            assert 0 < len(data) < 9  # some tokens, then cut: no finish chunk, no [DONE]
            assert b"data: [DONE]\n" not in lines
            assert srv.stats.total_successes == 0

    asyncio.run(main())


def test_fault_rates_match_configuration_and_are_seeded() -> None:
    """2,000 distinct case keys; each fault's count must fit its binomial rate."""
    rates = {"429": 0.05, "500": 0.02, "503": 0.02, "malformed": 0.01}
    cfg = {"faults": {f"rate_{k}": v for k, v in rates.items()} | {"seed": 7}}
    n = 2000

    async def run_once() -> dict[str, str]:
        fates: dict[str, str] = {}
        async with TestServer(cfg) as srv:
            conn = aiohttp.TCPConnector(limit=64)
            async with aiohttp.ClientSession(connector=conn) as s:

                async def one(i: int) -> None:
                    key = f"case-{i}/t/0"
                    hdr = {"X-Nullband-Case": key}
                    url = f"{srv.base_url}/chat/completions"
                    async with s.post(url, json=chat_body(), headers=hdr) as r:
                        raw = await r.read()
                    if r.status != 200:
                        fates[key] = str(r.status)
                    else:
                        try:
                            orjson.loads(raw)
                            fates[key] = "ok"
                        except orjson.JSONDecodeError:
                            fates[key] = "malformed"

                await asyncio.gather(*(one(i) for i in range(n)))
            assert srv.stats.total_requests == n
        return fates

    first = asyncio.run(run_once())
    counts = Counter(first.values())
    for kind, rate in rates.items():
        # Two-sided exact binomial test at 0.001: fails only if the rate is really off.
        assert binomtest(counts[kind], n, rate).pvalue > 0.001, (kind, counts[kind])
    # Same seed, different arrival order (concurrency): the same cases get the same faults.
    assert asyncio.run(run_once()) == first


def test_counts_requests_after_success() -> None:
    async def main() -> None:
        async with TestServer() as srv, aiohttp.ClientSession() as s:
            await post_chat(s, srv.base_url, chat_body(), "a/t/0")
            await post_chat(s, srv.base_url, chat_body(), "b/t/0")
            await post_chat(s, srv.base_url, chat_body(), "a/t/0")
            assert srv.stats.after_success() == {"a/t/0": 1}
            async with s.get(f"{srv.url}/_nullband/stats") as r:
                snap = await r.json()
            assert snap["cases"]["a/t/0"] == {"requests": 2, "successes": 2, "after_success": 1}
            assert snap["cases"]["b/t/0"] == {"requests": 1, "successes": 1, "after_success": 0}
            async with s.post(f"{srv.url}/_nullband/reset") as r:
                assert r.status == 200
            assert srv.stats.keys() == []

    asyncio.run(main())


@pytest.mark.parametrize("content", ["one", "one two three four"])
def test_malformed_stream_has_a_line_that_is_not_json(content: str) -> None:
    async def main() -> None:
        cfg = _only("malformed")
        cfg["default_content"] = content
        async with TestServer(cfg) as srv, aiohttp.ClientSession() as s:
            body = chat_body(stream=True)
            bad = 0
            async with s.post(f"{srv.base_url}/chat/completions", json=body) as r:
                async for line in r.content:
                    if line.startswith(b"data: {"):
                        try:
                            orjson.loads(line[6:])
                        except orjson.JSONDecodeError:
                            bad += 1
            assert bad == 1
            assert srv.stats.total_successes == 0

    asyncio.run(main())
