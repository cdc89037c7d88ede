"""`nullband testserver`: run the scriptable OpenAI-compatible test server."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from nullband.errors import UsageError


def _apply_overrides(cfg: dict[str, Any], opts: dict[str, Any]) -> dict[str, Any]:
    """Merge CLI options (None = not given) into the script's config dict."""
    lat = cfg.setdefault("latency", {})
    faults = cfg.setdefault("faults", {})
    gw = cfg.setdefault("gateway", {})
    simple = {
        "served_model": cfg,
        "fingerprint": cfg,
        "default_content": cfg,
        "max_running": cfg,
        "tokenizer": cfg,
        "ttft_s": lat,
        "per_token_s": lat,
        "rate_429": faults,
        "rate_500": faults,
        "rate_503": faults,
        "rate_timeout": faults,
        "rate_reset": faults,
        "rate_malformed": faults,
        "rate_truncate": faults,
        "retry_after_s": faults,
        "hang_s": faults,
        "seed": faults,
    }
    for name, target in simple.items():
        if opts.get(name) is not None:
            target[name] = opts[name]
    if opts.get("gateway") is not None:
        gw["style"] = opts["gateway"]
    if opts.get("provider") is not None:
        gw["provider"] = opts["provider"]
    if opts.get("switch_after") is not None:
        if not opts.get("switch_model"):
            raise UsageError("--switch-after needs --switch-model (the model served afterwards)")
        sw: dict[str, Any] = {"after": opts["switch_after"], "served_model": opts["switch_model"]}
        if opts.get("switch_fingerprint"):
            sw["fingerprint"] = opts["switch_fingerprint"]
        cfg["switch"] = sw
    if opts.get("latency_jitter_ms") is not None:
        lat["extra"] = {"kind": "exponential", "mean": opts["latency_jitter_ms"] / 1000.0}
    return cfg


async def _serve(
    config: Any, host: str, port: int, stats_file: Path | None, ready_line: str | None
) -> None:
    from nullband.testserver import TestServer

    srv = TestServer(config, host=host, port=port)
    await srv.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    sys.stdout.write((ready_line or "nullband testserver listening on ") + srv.base_url + "\n")
    sys.stdout.flush()
    try:
        await stop.wait()
    finally:
        await srv.aclose()
        if stats_file is not None:
            snap = srv.stats.snapshot()
            snap["chat_requests"] = srv.chat_requests
            data = orjson.dumps(snap, option=orjson.OPT_INDENT_2)
            await asyncio.to_thread(stats_file.write_bytes, data)


def serve_command(
    port: Annotated[int, typer.Option(help="Port to listen on; 0 picks a free one.")] = 8080,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    script: Annotated[
        Path | None,
        typer.Option(help="YAML or JSON script: rules, latency, faults (see docs/testserver.md)."),
    ] = None,
    served_model: Annotated[
        str | None, typer.Option(help="response.model to send (default: echo the request's).")
    ] = None,
    fingerprint: Annotated[str | None, typer.Option(help="system_fingerprint to send.")] = None,
    default_content: Annotated[
        str | None, typer.Option(help="Reply when no rule matches (default: echo).")
    ] = None,
    ttft_ms: Annotated[float | None, typer.Option(help="Time to first token, ms.")] = None,
    per_token_ms: Annotated[float | None, typer.Option(help="Delay between tokens, ms.")] = None,
    latency_jitter_ms: Annotated[
        float | None, typer.Option(help="Mean of an exponential extra delay on TTFT, ms.")
    ] = None,
    fault_429: Annotated[float | None, typer.Option(help="Rate of 429 + Retry-After.")] = None,
    fault_500: Annotated[float | None, typer.Option(help="Rate of 500 errors.")] = None,
    fault_503: Annotated[float | None, typer.Option(help="Rate of 503 errors.")] = None,
    fault_timeout: Annotated[
        float | None, typer.Option(help="Rate of requests that hang (see --hang-s).")
    ] = None,
    fault_reset: Annotated[float | None, typer.Option(help="Rate of connection resets.")] = None,
    fault_malformed: Annotated[
        float | None, typer.Option(help="Rate of 200s with malformed JSON bodies.")
    ] = None,
    fault_truncate: Annotated[
        float | None, typer.Option(help="Rate of responses cut off half-way.")
    ] = None,
    retry_after_s: Annotated[float | None, typer.Option(help="Retry-After on 429s, s.")] = None,
    hang_s: Annotated[float | None, typer.Option(help="How long a timeout fault hangs, s.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of fault and latency draws.")] = None,
    switch_after: Annotated[
        int | None, typer.Option(help="Switch the served model after N chat requests.")
    ] = None,
    switch_model: Annotated[str | None, typer.Option(help="Model served after the switch.")] = None,
    switch_fingerprint: Annotated[
        str | None, typer.Option(help="system_fingerprint after the switch.")
    ] = None,
    gateway: Annotated[
        str | None, typer.Option(help="Provenance headers style: none|bifrost|litellm|portkey.")
    ] = None,
    provider: Annotated[str | None, typer.Option(help="Provider named in gateway headers.")] = None,
    max_running: Annotated[
        int | None, typer.Option(help="Requests decoded at once; the rest queue.")
    ] = None,
    tokenizer: Annotated[str | None, typer.Option(help="words (default) or bytes.")] = None,
    api_key_env: Annotated[
        str | None, typer.Option(help="Require 'Authorization: Bearer $VAR' on every request.")
    ] = None,
    stats_file: Annotated[
        Path | None, typer.Option(help="Write the per-case counters as JSON here on exit.")
    ] = None,
) -> None:
    """Serve a scriptable OpenAI-compatible endpoint until Ctrl-C or SIGTERM.

    Prints 'nullband testserver listening on http://HOST:PORT/v1' once ready. Without a script it echoes the last user message. Counters per X-Nullband-Case header are at GET /_nullband/stats; vLLM-style metrics at GET /metrics. See docs/testserver.md.

    Example: nullband testserver --port 8080 --fault-429 0.05 --fault-timeout 0.01 --hang-s 5 --seed 1 --switch-after 1000 --switch-model acme-2026-06-01
    """
    from nullband.config import load_yaml_model
    from nullband.testserver import ServerConfig

    cfg: dict[str, Any] = {}
    if script is not None:
        cfg = load_yaml_model(script, ServerConfig).model_dump(exclude_unset=True)
    opts = dict(locals())
    opts["ttft_s"] = ttft_ms / 1000.0 if ttft_ms is not None else None
    opts["per_token_s"] = per_token_ms / 1000.0 if per_token_ms is not None else None
    for name in (
        "429",
        "500",
        "503",
        "timeout",
        "reset",
        "malformed",
        "truncate",
    ):
        opts[f"rate_{name}"] = opts.get(f"fault_{name}")
    if api_key_env is not None:
        key = os.environ.get(api_key_env)
        if not key:
            raise UsageError(f"--api-key-env {api_key_env}: the variable is not set")
        cfg["api_key"] = key
    cfg = _apply_overrides(cfg, opts)
    try:
        config = ServerConfig.model_validate(cfg)
    except ValueError as exc:
        raise UsageError(f"invalid test server options: {exc}") from None
    from nullband.testserver.timing import run_precisely

    # timers not rounded up to whole milliseconds, short GC pauses: tokens leave on time
    run_precisely(_serve(config, host, port, stats_file, None))


def register(app: typer.Typer) -> None:
    """Add this group's commands to the top-level app."""
    app.command("testserver")(serve_command)
