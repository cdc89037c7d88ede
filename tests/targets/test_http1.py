"""The lean HTTP/1.1 client against raw servers on loopback that script every byte."""

from __future__ import annotations

import asyncio
import gzip
import shutil
import ssl
import subprocess
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from nullband.targets.http1 import (
    ConnectFailed,
    Disconnected,
    Http1Pool,
    ProtocolError,
    Response,
)

pytestmark = pytest.mark.anyio

Handler = Callable[[bytes, int], bytes | None]
"""(request bytes, connection's request number) -> bytes to send (None: close at once)."""


class RawServer:
    """Reads one whole request (head + Content-Length body), answers with scripted bytes."""

    def __init__(self, handler: Handler, *, close_after: bool = False) -> None:
        self.handler = handler
        self.close_after = close_after
        self.connections = 0
        self.requests: list[bytes] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        n = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                self.requests.append(head + body)
                n += 1
                out = self.handler(head + body, n)
                if out is None:
                    break
                writer.write(out)
                await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def raw_server(
    handler: Handler, *, close_after: bool = False, tls: ssl.SSLContext | None = None
) -> AsyncIterator[tuple[RawServer, int]]:
    srv = RawServer(handler, close_after=close_after)
    server = await asyncio.start_server(srv.serve, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    try:
        yield srv, port
    finally:
        server.close()
        await server.wait_closed()


def ok(body: bytes, *extra: str) -> bytes:
    head = "".join(f"{h}\r\n" for h in extra)
    return b"HTTP/1.1 200 OK\r\n%sContent-Length: %d\r\n\r\n%s" % (head.encode(), len(body), body)


async def call(pool: Http1Pool, body: bytes = b"{}") -> tuple[Response, bytes]:
    resp = await pool.post("/chat/completions", body, {})
    try:
        return resp, await resp.read()
    finally:
        pool.release(resp)


async def test_keep_alive_reuses_one_connection_and_sends_what_it_says() -> None:
    async with raw_server(lambda req, n: ok(b'{"n": %d}' % n, "X-Served: a", "x-served: b")) as (
        srv,
        port,
    ):
        pool = Http1Pool(f"http://127.0.0.1:{port}/v1/", {"Authorization": "Bearer k"})
        for i in range(1, 4):
            resp, body = await call(pool, b'{"i": %d}' % i)
            assert resp.status == 200
            assert body == b'{"n": %d}' % i
            assert resp.headers["x-served"] == "a, b"  # repeated headers joined
        await pool.close()
    assert srv.connections == 1
    first = srv.requests[0]
    assert first.startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
    assert b"\r\nHost: 127.0.0.1:%d\r\n" % port in first
    assert b"\r\nAuthorization: Bearer k\r\n" in first
    assert first.endswith(b'Content-Length: 8\r\n\r\n{"i": 1}')


async def test_chunked_gzip_and_interim_responses_are_decoded() -> None:
    payload = b'{"choices": []}' * 50
    packed = gzip.compress(payload)
    chunks = b"".join(
        b"%x;ext=1\r\n%s\r\n" % (len(packed[i : i + 100]), packed[i : i + 100])
        for i in range(0, len(packed), 100)
    )
    reply = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n"
        b"X-Long: part one\r\n  part two\r\n\r\n" + chunks + b"0\r\nX-Trailer: t\r\n\r\n"
    )
    async with raw_server(lambda req, n: reply) as (srv, port):
        pool = Http1Pool(f"http://127.0.0.1:{port}", {})
        resp, body = await call(pool)
        assert (resp.status, body) == (200, payload)
        assert resp.headers["x-long"] == "part one part two"
        resp, body = await call(pool)  # the chunked response ended cleanly: reused
        assert body == payload
        await pool.close()
    assert srv.connections == 1


async def test_deflate_body_is_decoded() -> None:
    payload = b'{"ok": true}'
    async with raw_server(
        lambda req, n: ok(zlib.compress(payload), "Content-Encoding: deflate")
    ) as (
        _,
        port,
    ):
        pool = Http1Pool(f"http://127.0.0.1:{port}", {})
        assert (await call(pool))[1] == payload
        await pool.close()


async def test_body_until_close_and_connection_close_are_not_reused() -> None:
    async with raw_server(
        lambda req, n: b"HTTP/1.1 200 OK\r\n\r\nwhole body", close_after=True
    ) as (srv, port):
        pool = Http1Pool(f"http://127.0.0.1:{port}", {})
        for _ in range(2):
            resp, body = await call(pool)
            assert body == b"whole body"
            assert not resp.keep_alive
        await pool.close()
    assert srv.connections == 2
    async with raw_server(lambda req, n: ok(b"x", "Connection: close")) as (srv, port):
        pool = Http1Pool(f"http://127.0.0.1:{port}", {})
        await call(pool)
        await call(pool)
        await pool.close()
    assert srv.connections == 2


async def test_lines_arrive_as_the_server_sends_them() -> None:
    gate = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(2)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        writer.write(b"a\r\ndata: one\n\r\n")
        await writer.drain()
        await gate.wait()
        writer.write(b"f\r\ndata: two\ndata:\r\n5\r\n end\n\r\n0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    pool = Http1Pool(f"http://127.0.0.1:{port}", {})
    resp = await pool.post("/x", b"{}", {})
    seen: list[bytes] = []
    try:
        async for line in resp.lines():
            seen.append(line)
            if len(seen) == 1:
                assert line == b"data: one\n"  # delivered before the rest was sent
                gate.set()
    finally:
        pool.release(resp)
    assert seen == [b"data: one\n", b"data: two\n", b"data: end\n"]
    await pool.close()
    server.close()


@pytest.mark.parametrize(
    ("reply", "error", "text"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", Disconnected, "5 byte"),
        (b"", Disconnected, "before sending a response"),
        (b"SPDY/3 200 OK\r\n\r\n", ProtocolError, "bad status line"),
        (b"HTTP/1.1 2x0 OK\r\n\r\n", ProtocolError, "bad status line"),
        (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", ProtocolError, "bad header line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", ProtocolError, "content-length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", ProtocolError, "content-length"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", ProtocolError, "transfer-enc"),
        (b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\n\r\n", ProtocolError, "content-enc"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", ProtocolError, "chunk"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n12", Disconnected, "body"),
        (
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nnope",
            ProtocolError,
            "compressed",
        ),
        (b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70_000, ProtocolError, "longer than"),
    ],
)
async def test_unreadable_or_cut_responses_raise_a_clear_error(
    reply: bytes, error: type[Exception], text: str
) -> None:
    async with raw_server(lambda req, n: reply, close_after=True) as (_, port):
        pool = Http1Pool(f"http://127.0.0.1:{port}", {})
        with pytest.raises(error, match=text):
            await call(pool)
        await pool.close()


async def test_an_idle_connection_the_server_closed_is_not_reused() -> None:
    async with raw_server(lambda req, n: ok(b"fine"), close_after=True) as (srv, port):
        pool = Http1Pool(f"http://127.0.0.1:{port}", {})
        assert (await call(pool))[1] == b"fine"
        await asyncio.sleep(0.05)  # the server's FIN arrives while the connection is idle
        assert (await call(pool))[1] == b"fine"
        await pool.close()
    assert srv.connections == 2


async def test_a_cancelled_exchange_closes_its_connection() -> None:
    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart")
        await writer.drain()
        await asyncio.sleep(5)
        writer.close()

    server = await asyncio.start_server(slow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    pool = Http1Pool(f"http://127.0.0.1:{port}", {})
    resp = await pool.post("/x", b"", {})
    try:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await resp.read()
    finally:
        pool.release(resp)
    assert resp._conn.lost  # half-read: closed, never handed to the next call
    assert not pool._idle
    await pool.close()
    server.close()


async def test_connection_refused_and_bad_headers() -> None:
    sock_server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = sock_server.sockets[0].getsockname()[1]
    sock_server.close()
    await sock_server.wait_closed()
    pool = Http1Pool(f"http://127.0.0.1:{port}", {})
    with pytest.raises(ConnectFailed, match="ConnectionRefusedError"):
        await pool.post("/x", b"", {})
    with pytest.raises(ValueError, match="line break"):
        Http1Pool("http://127.0.0.1:1", {"X-Evil": "a\r\nInjected: 1"})
    with pytest.raises(ValueError, match="not an http"):
        Http1Pool("ftp://example.invalid", {})


def _self_signed(folder: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    assert openssl, "the TLS test needs the openssl command (Debian package openssl)"
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_https_checks_the_certificate_and_host_name(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    async with raw_server(lambda req, n: ok(b"secure"), tls=tls) as (_, port):
        trusting = ssl.create_default_context(cafile=str(cert))
        pool = Http1Pool(f"https://localhost:{port}", {}, ssl_context=trusting)
        assert (await call(pool))[1] == b"secure"
        await pool.close()
        # the system trust store does not know the self-signed certificate
        pool = Http1Pool(f"https://localhost:{port}", {})
        with pytest.raises(ConnectFailed, match="CERTIFICATE_VERIFY_FAILED"):
            await call(pool)
        await pool.close()
        # nor does a trusting context accept it for another host name
        pool = Http1Pool(f"https://127.0.0.1:{port}", {}, ssl_context=trusting)
        with pytest.raises(ConnectFailed, match="CERTIFICATE_VERIFY_FAILED"):
            await call(pool)
        await pool.close()
