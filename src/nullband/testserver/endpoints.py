"""The test server's routes besides chat completions.

``GET /v1/models``, ``POST /v1/embeddings``, ``POST /tokenize`` (vLLM's shape),
``GET /metrics``, ``GET /health``, ``GET /_nullband/stats``, ``POST /_nullband/reset`` and
``GET /_nullband/timings`` (the send-time log, when enabled: see ``timing.py``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from nullband.testserver.app import error_response
from nullband.testserver.tokens import (
    chat_template,
    count_tokens,
    embed,
    encode_base64,
    split_tokens,
    token_ids,
)

if TYPE_CHECKING:
    from nullband.testserver.app import ChatApp

_JSON = "application/json"


def _json(data: Any) -> web.Response:
    return web.Response(body=orjson.dumps(data), content_type=_JSON)


async def _read_json(request: web.Request) -> dict[str, Any] | web.Response:
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError as exc:
        return error_response(400, f"request body is not valid JSON: {exc}")
    if not isinstance(body, dict):
        return error_response(400, "request body must be a JSON object")
    return body


def add_routes(app: web.Application, chat: ChatApp) -> None:
    """Register every route but chat completions on ``app``."""
    cfg = chat.cfg

    async def models(request: web.Request) -> web.Response:
        now = int(time.time())
        return _json(
            {
                "object": "list",
                "data": [
                    {
                        "id": chat.current_model(),
                        "object": "model",
                        "created": now,
                        "owned_by": "nullband",
                        "max_model_len": cfg.max_model_len,
                    }
                ],
            }
        )

    async def embeddings(request: web.Request) -> web.Response:
        body = await _read_json(request)
        if isinstance(body, web.Response):
            return body
        raw = body.get("input")
        if isinstance(raw, str):
            texts = [raw]
        elif isinstance(raw, list) and raw and all(isinstance(x, int) for x in raw):
            texts = [" ".join(str(x) for x in raw)]
        elif isinstance(raw, list) and raw:
            texts = [x if isinstance(x, str) else " ".join(str(t) for t in x) for x in raw]
        else:
            return error_response(400, "'input' must be a string or a non-empty list")
        dim = body.get("dimensions") if isinstance(body.get("dimensions"), int) else None
        b64 = body.get("encoding_format") == "base64"
        data = []
        n_tokens = 0
        for i, text in enumerate(texts):
            vec = embed(text, dim or cfg.embedding_dim)
            n_tokens += count_tokens(text, cfg.tokenizer)
            data.append(
                {
                    "object": "embedding",
                    "index": i,
                    "embedding": encode_base64(vec) if b64 else vec,
                }
            )
        return _json(
            {
                "object": "list",
                "data": data,
                "model": str(body.get("model", chat.current_model())),
                "usage": {"prompt_tokens": n_tokens, "total_tokens": n_tokens},
            }
        )

    async def tokenize(request: web.Request) -> web.Response:
        body = await _read_json(request)
        if isinstance(body, web.Response):
            return body
        if isinstance(body.get("prompt"), str):
            text = body["prompt"]
        elif isinstance(body.get("messages"), list):
            text = chat_template(body["messages"])
        else:
            return error_response(400, "give 'prompt' (a string) or 'messages' (a list)")
        ids = token_ids(text, cfg.tokenizer)
        out: dict[str, Any] = {"count": len(ids), "max_model_len": cfg.max_model_len, "tokens": ids}
        if body.get("return_token_strs"):
            if cfg.tokenizer == "bytes":
                out["token_strs"] = [bytes([b]).decode("latin-1") for b in ids]
            else:
                out["token_strs"] = split_tokens(text, cfg.tokenizer)
        return _json(out)

    async def metrics(request: web.Request) -> web.Response:
        text = chat.metrics.render(chat.current_model())
        return web.Response(text=text, content_type="text/plain", charset="utf-8")

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def stats(request: web.Request) -> web.Response:
        snap = chat.stats.snapshot()
        snap["chat_requests"] = chat.n_chat
        snap["current_model"] = chat.current_model()
        return _json(snap)

    async def timings(request: web.Request) -> web.Response:
        if chat.timings is None:
            return error_response(
                404, "the timing log is off; start the server with NULLBAND_TESTSERVER_TIMINGS=1"
            )
        return _json(chat.timings.snapshot())

    async def reset(request: web.Request) -> web.Response:
        chat.stats.reset()
        return _json({"reset": True})

    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/embeddings", embeddings)
    app.router.add_post("/tokenize", tokenize)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/health", health)
    app.router.add_get("/_nullband/stats", stats)
    app.router.add_post("/_nullband/reset", reset)
    app.router.add_get("/_nullband/timings", timings)
