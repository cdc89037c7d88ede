"""Models, embeddings, tokenize, metrics and gateway headers of the test server."""

from __future__ import annotations

import asyncio
import base64
import math
import struct
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from ts_helpers import chat_body, post_chat, read_stream

from nullband.testserver import TestServer


def test_embeddings_are_deterministic_unit_vectors() -> None:
    async def main() -> None:
        async with TestServer({"embedding_dim": 32}) as srv, aiohttp.ClientSession() as s:
            url = f"{srv.base_url}/embeddings"
            texts = ["refund my order", "Refund my ORDER!", "weather in oslo"]
            async with s.post(url, json={"model": "e", "input": texts}) as r:
                data = (await r.json())["data"]
            vecs = [d["embedding"] for d in data]
            assert [d["index"] for d in data] == [0, 1, 2]
            for v in vecs:
                assert len(v) == 32
                assert math.isclose(sum(x * x for x in v), 1.0, rel_tol=1e-9)
            # Same words (case and punctuation aside) give the same vector.
            assert vecs[0] == vecs[1]
            async with s.post(
                url, json={"input": "refund my order", "encoding_format": "base64"}
            ) as r:
                b64 = (await r.json())["data"][0]["embedding"]
            unpacked = struct.unpack("<32f", base64.b64decode(b64))
            assert all(
                math.isclose(a, b, abs_tol=1e-6) for a, b in zip(unpacked, vecs[0], strict=True)
            )
            async with s.post(url, json={"input": 3}) as r:
                assert r.status == 400

    asyncio.run(main())


@pytest.mark.parametrize("tokenizer", ["words", "bytes"])
def test_tokenize_counts_match_chat_usage(tokenizer: str) -> None:
    async def main() -> None:
        async with TestServer({"tokenizer": tokenizer}) as srv, aiohttp.ClientSession() as s:
            body = chat_body("héllo there, world")
            _, b, _ = await post_chat(s, srv.base_url, body)
            async with s.post(f"{srv.url}/tokenize", json={"messages": body["messages"]}) as r:
                tok = await r.json()
            assert tok["count"] == b["usage"]["prompt_tokens"] == len(tok["tokens"])
            assert tok["max_model_len"] == 8192
            prompt = {"prompt": "a b  c", "return_token_strs": True}
            async with s.post(f"{srv.url}/tokenize", json=prompt) as r:
                tok = await r.json()
            if tokenizer == "words":
                assert tok["token_strs"] == ["a", " b", "  c"]
            else:
                assert tok["tokens"] == list(b"a b  c")

    asyncio.run(main())


def _families(text: str) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_metrics_parse_and_count_requests() -> None:
    """The exposition parses with prometheus_client's parser and agrees with what was sent."""
    cfg = {"served_model": "m-2026", "latency": {"ttft_s": 0.02, "per_token_s": 0.005}}

    async def main() -> None:
        async with TestServer(cfg) as srv, aiohttp.ClientSession() as s:
            for _ in range(3):
                await read_stream(s, srv.base_url, chat_body("one two three four"))
            await post_chat(s, srv.base_url, chat_body("x y", max_tokens=1))
            async with s.get(f"{srv.url}/metrics") as r:
                assert r.headers["Content-Type"].startswith("text/plain")
                fams = _families(await r.text())
        ttft = fams["vllm:time_to_first_token_seconds"]
        count = next(x.value for x in ttft.samples if x.name.endswith("_count"))
        assert count == 4
        total = next(x.value for x in ttft.samples if x.name.endswith("_sum"))
        # Each TTFT >= 20 ms less the 0.5 ms early wake-up; none wildly late.
        assert 4 * 0.0194 <= total < 4 * 0.02 + 0.2
        # 0.01 s bucket is below every TTFT (20 ms), so it must be empty.
        b001 = next(x.value for x in ttft.samples if x.labels.get("le") == "0.01")
        assert b001 == 0
        gen = fams["vllm:generation_tokens"]
        assert next(x.value for x in gen.samples) == 3 * 4 + 1
        reasons = {
            x.labels["finished_reason"]: x.value for x in fams["vllm:request_success"].samples
        }
        assert reasons == {"stop": 3, "length": 1}
        itl = fams["vllm:inter_token_latency_seconds"]
        assert next(x.value for x in itl.samples if x.name.endswith("_count")) == 3 * 3
        for gauge in ("vllm:num_requests_running", "vllm:num_requests_waiting"):
            assert fams[gauge].type == "gauge"
            assert fams[gauge].samples[0].labels["model_name"] == "m-2026"
        assert "vllm:gpu_cache_usage_perc" in fams
        assert "vllm:kv_cache_usage_perc" in fams

    asyncio.run(main())


def test_queue_shows_running_and_waiting() -> None:
    cfg = {"max_running": 2, "latency": {"ttft_s": 0.6}}

    async def main() -> None:
        async with TestServer(cfg) as srv, aiohttp.ClientSession() as s:
            tasks = [asyncio.create_task(post_chat(s, srv.base_url, chat_body())) for _ in range(5)]
            await asyncio.sleep(0.3)  # all five have arrived; none has finished
            async with s.get(f"{srv.url}/metrics") as r:
                fams = _families(await r.text())
            await asyncio.gather(*tasks)
        assert fams["vllm:num_requests_running"].samples[0].value == 2
        assert fams["vllm:num_requests_waiting"].samples[0].value == 3
        assert fams["vllm:kv_cache_usage_perc"].samples[0].value > 0

    asyncio.run(main())


def test_gateway_headers_bifrost_litellm_portkey() -> None:
    async def main() -> None:
        async with aiohttp.ClientSession() as s:
            cfg = {"gateway": {"style": "bifrost", "provider": "openai"}}
            async with TestServer(cfg) as srv:
                body = chat_body(model="openai/gpt-4o-mini-2024-07-18")
                _, b, h = await post_chat(s, srv.base_url, body)
            assert b["model"] == "gpt-4o-mini-2024-07-18"  # provider prefix stripped
            assert h["x-bifrost-provider"] == "openai"
            assert h["x-bifrost-original-model"] == "openai/gpt-4o-mini-2024-07-18"
            assert h["x-bifrost-resolved-model"] == "gpt-4o-mini-2024-07-18"
            assert "x-bifrost-fallback-index" not in h
            assert b["extra_fields"]["routing_info"]["is_fallback"] is False

            cfg = {"gateway": {"style": "litellm", "fallback_rate": 1.0}}
            async with TestServer(cfg) as srv:
                _, b, h = await post_chat(s, srv.base_url, chat_body(model="group-a"))
            assert h["x-litellm-model-group"] == "group-a"
            assert h["x-litellm-attempted-fallbacks"] == "1"
            assert b["model"] == "fallback-model-2026-01-01"
            assert "x-litellm-cache-key" not in h

            cfg = {"gateway": {"style": "portkey", "cache_hit_rate": 1.0}}
            async with TestServer(cfg) as srv:
                _, _, h = await post_chat(s, srv.base_url, chat_body())
                assert h["x-portkey-cache-status"] == "HIT"
                url = f"{srv.base_url}/chat/completions"
                hdr = {"x-portkey-cache-force-refresh": "true", "x-portkey-trace-id": "case-9"}
                async with s.post(url, json=chat_body(), headers=hdr) as r:
                    assert r.headers["x-portkey-cache-status"] == "REFRESH"
                    assert r.headers["x-portkey-trace-id"] == "case-9"

    asyncio.run(main())


def test_models_and_health() -> None:
    async def main() -> None:
        cfg = {"served_model": "acme-2026-05-01"}
        async with TestServer(cfg) as srv, aiohttp.ClientSession() as s:
            async with s.get(f"{srv.base_url}/models") as r:
                data = await r.json()
            assert data["data"][0]["id"] == "acme-2026-05-01"
            async with s.get(f"{srv.url}/health") as r:
                assert r.status == 200

    asyncio.run(main())
