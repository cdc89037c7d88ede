"""Chat completions of the test server over real HTTP: replies, lengths, tools, scripts."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson
from ts_helpers import chat_body, post_chat, read_stream

from nullband.testserver import Reply, ServerRequest, TestServer


def test_echo_reply_with_usage_and_provenance() -> None:
    async def main() -> None:
        async with TestServer() as srv, aiohttp.ClientSession() as s:
            status, body, _ = await post_chat(s, srv.base_url, chat_body("what is 2+2"))
            assert status == 200
            msg = body["choices"][0]["message"]
            assert msg == {"role": "assistant", "content": "what is 2+2"}
            assert body["choices"][0]["finish_reason"] == "stop"
            assert body["model"] == "acme-2026-05-01"  # echoes the requested model
            assert body["system_fingerprint"] == "fp_nullband"
            # "what is 2+2" is 3 word tokens; the prompt template adds 2 more.
            assert body["usage"] == {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}

    asyncio.run(main())


def test_max_min_tokens_and_ignore_eos_pin_output_length() -> None:
    async def main() -> None:
        cfg = {"default_content": "one two three four five six"}
        async with TestServer(cfg) as srv, aiohttp.ClientSession() as s:
            _, b, _ = await post_chat(s, srv.base_url, chat_body(max_tokens=4))
            assert b["choices"][0]["message"]["content"] == "one two three four"
            assert b["choices"][0]["finish_reason"] == "length"
            assert b["usage"]["completion_tokens"] == 4
            _, b, _ = await post_chat(s, srv.base_url, chat_body(min_tokens=9, max_tokens=20))
            assert b["usage"]["completion_tokens"] == 9
            assert b["choices"][0]["finish_reason"] == "stop"
            _, b, _ = await post_chat(s, srv.base_url, chat_body(max_tokens=50, ignore_eos=True))
            assert b["usage"]["completion_tokens"] == 50
            assert b["choices"][0]["finish_reason"] == "length"
            # max_completion_tokens (the newer OpenAI name) is honoured too.
            _, b, _ = await post_chat(s, srv.base_url, chat_body(max_completion_tokens=2))
            assert b["usage"]["completion_tokens"] == 2

    asyncio.run(main())


def test_stream_chunks_join_to_the_reply_and_carry_usage() -> None:
    async def main() -> None:
        cfg = {"default_content": "alpha beta gamma"}
        async with TestServer(cfg) as srv, aiohttp.ClientSession() as s:
            body = chat_body(stream_options={"include_usage": True})
            chunks = await read_stream(s, srv.base_url, body)
            deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
            assert deltas[0]["role"] == "assistant"
            assert "".join(d.get("content") or "" for d in deltas) == "alpha beta gamma"
            assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
            assert chunks[-1]["choices"] == []
            assert chunks[-1]["usage"]["completion_tokens"] == 3
            assert {c["model"] for c in chunks} == {"acme-2026-05-01"}
            # Without include_usage no usage chunk is sent.
            chunks = await read_stream(s, srv.base_url, chat_body())
            assert all("usage" not in c for c in chunks)

    asyncio.run(main())


def _weather(req: ServerRequest) -> Reply:
    assert req.tools
    assert req.tools[0]["function"]["name"] == "get_weather"
    return Reply(tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}])


TOOLS = [
    {
        "type": "function",
        "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
    }
]


def test_tool_calls_json_and_stream() -> None:
    async def main() -> None:
        async with TestServer(responder=_weather) as srv, aiohttp.ClientSession() as s:
            _, b, _ = await post_chat(s, srv.base_url, chat_body(tools=TOOLS))
            choice = b["choices"][0]
            assert choice["finish_reason"] == "tool_calls"
            call = choice["message"]["tool_calls"][0]
            assert call["type"] == "function"
            assert call["function"]["name"] == "get_weather"
            assert orjson.loads(call["function"]["arguments"]) == {"city": "Paris", "days": 3}
            chunks = await read_stream(s, srv.base_url, chat_body(tools=TOOLS))
            name, args, ids = "", "", set()
            for c in chunks:
                for tc in c["choices"][0]["delta"].get("tool_calls", []) if c["choices"] else []:
                    assert tc["index"] == 0
                    ids.add(tc.get("id"))
                    name += tc["function"].get("name", "")
                    args += tc["function"].get("arguments", "")
            assert name == "get_weather"
            assert orjson.loads(args) == {"city": "Paris", "days": 3}
            assert len(ids - {None}) == 1
            assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"

    asyncio.run(main())


def test_script_rules_by_case_regex_times_and_status() -> None:
    cfg: dict[str, Any] = {
        "rules": [
            {"case": "flaky-*", "status": 500, "times": 2},
            {"case": "arith-1", "content": "4"},
            {"match": "(?i)weather", "tool_calls": [{"name": "get_weather", "arguments": {}}]},
        ],
        "default_content": "I don't know",
    }

    async def main() -> None:
        async with TestServer(cfg) as srv, aiohttp.ClientSession() as s:
            st, b, _ = await post_chat(s, srv.base_url, chat_body("2+2?"), "arith-1/cand/0")
            assert (st, b["choices"][0]["message"]["content"]) == (200, "4")
            _, b, _ = await post_chat(s, srv.base_url, chat_body("The WEATHER in Oslo?"))
            assert b["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_weather"
            _, b, _ = await post_chat(s, srv.base_url, chat_body("anything"))
            assert b["choices"][0]["message"]["content"] == "I don't know"
            # The flaky rule fails the first two attempts of each case key, then stops matching.
            statuses = [
                (await post_chat(s, srv.base_url, chat_body("x"), "flaky-7/cand/0"))[0]
                for _ in range(3)
            ]
            assert statuses == [500, 500, 200]
            assert srv.stats.requests("flaky-7/cand/0") == 3
            assert srv.stats.successes("flaky-7/cand/0") == 1

    asyncio.run(main())


def test_async_responder_and_served_model_override() -> None:
    async def responder(req: ServerRequest) -> Reply | None:
        await asyncio.sleep(0)
        if req.case_id == "special":
            return Reply(content="special answer", model="other-model-2026-01-01")
        return None  # fall through to the default (echo)

    async def main() -> None:
        async with TestServer(responder=responder) as srv, aiohttp.ClientSession() as s:
            _, b, _ = await post_chat(s, srv.base_url, chat_body("hi"), "special/t/0")
            assert b["choices"][0]["message"]["content"] == "special answer"
            assert b["model"] == "other-model-2026-01-01"
            _, b, _ = await post_chat(s, srv.base_url, chat_body("hi"), "plain/t/0")
            assert b["choices"][0]["message"]["content"] == "hi"

    asyncio.run(main())


def test_served_model_switch_after_n_requests() -> None:
    cfg = {
        "served_model": "acme-2026-05-01",
        "fingerprint": "fp_old",
        "switch": {"after": 3, "served_model": "acme-2026-06-01", "fingerprint": "fp_new"},
    }

    async def main() -> None:
        async with TestServer(cfg) as srv, aiohttp.ClientSession() as s:
            seen = []
            for i in range(5):
                _, b, _ = await post_chat(s, srv.base_url, chat_body(model="acme-latest"), f"c{i}")
                seen.append((b["model"], b["system_fingerprint"]))
            assert seen == [("acme-2026-05-01", "fp_old")] * 3 + [("acme-2026-06-01", "fp_new")] * 2
            served = srv.stats.served()
            assert served == {f"c{i}": m for i, (m, _) in enumerate(seen)}
            async with s.get(f"{srv.base_url}/models") as r:
                assert (await r.json())["data"][0]["id"] == "acme-2026-06-01"

    asyncio.run(main())


def test_api_key_is_required_when_configured() -> None:
    async def main() -> None:
        async with TestServer({"api_key": "sk-test-123"}) as srv, aiohttp.ClientSession() as s:
            status, body, _ = await post_chat(s, srv.base_url, chat_body())
            assert status == 401
            assert "API key" in body["error"]["message"]
            auth = {"Authorization": "Bearer sk-test-123"}
            async with s.post(
                f"{srv.base_url}/chat/completions", json=chat_body(), headers=auth
            ) as r:
                assert r.status == 200

    asyncio.run(main())


def test_bad_request_bodies_get_400() -> None:
    async def main() -> None:
        async with TestServer() as srv, aiohttp.ClientSession() as s:
            url = f"{srv.base_url}/chat/completions"
            async with s.post(url, data=b"{not json") as r:
                assert r.status == 400
                assert "not valid JSON" in (await r.json())["error"]["message"]
            async with s.post(url, json={"model": "m"}) as r:
                assert r.status == 400

    asyncio.run(main())


def test_sync_thread_mode_serves_and_counts() -> None:
    import urllib.request

    with TestServer() as srv:
        req = urllib.request.Request(
            f"{srv.base_url}/chat/completions",
            data=orjson.dumps(chat_body("ping")),
            headers={"Content-Type": "application/json", "X-Nullband-Case": "k1/t/0"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert orjson.loads(resp.read())["choices"][0]["message"]["content"] == "ping"
        assert srv.stats.requests("k1/t/0") == 1
        assert srv.stats.successes("k1/t/0") == 1
        url = srv.url
    # Stopped: the port no longer answers.
    try:
        urllib.request.urlopen(f"{url}/health", timeout=2)
        raise AssertionError("server still answering after stop()")
    except OSError:
        pass


def test_a_failing_responder_gives_a_500_with_the_reason() -> None:
    def responder(req: ServerRequest) -> Reply:
        raise ValueError("no rule for this prompt")

    async def main() -> None:
        async with TestServer(responder=responder) as srv, aiohttp.ClientSession() as s:
            status, body, _ = await post_chat(s, srv.base_url, chat_body())
            assert status == 500
            assert "ValueError: no rule for this prompt" in body["error"]["message"]

    asyncio.run(main())
