"""A lean HTTP/1.1 client for model calls: a keep-alive pool on asyncio protocols.

The runner spends most of its time in its HTTP client. aiohttp's general-purpose client
cost about 125-140 us of CPU per request on the runner's hot path here, this one about
45-55 us (``bench/runner.md``), which is what lets a run keep up with a fast endpoint.
It does what chat completion calls need and nothing else:

- one origin (``http`` or ``https``, host, port) per pool; HTTP/1.1 keep-alive; TLS with
  the system's trust store (``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` are honoured) and
  the host name checked;
- request bodies with ``Content-Length``; every request is written in one piece;
- responses framed by ``Content-Length``, the chunked transfer coding, or the end of
  the connection; ``1xx`` interim responses skipped; ``gzip`` and ``deflate`` content
  codings decoded; bodies read whole or line by line (server-sent events).

Not supported, on purpose: proxies, redirects, cookies, HTTP/2 (the aiohttp session it
replaces used none of them for these calls). A response it cannot read raises
:class:`ProtocolError`; a connection that fails or closes early raises
:class:`Disconnected` (or :class:`ConnectFailed` before anything was sent). None of them
is retried here: the caller's retry policy decides, and records every attempt.
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from collections.abc import AsyncIterator, Mapping
from urllib.parse import urlsplit

from nullband import __version__

_MAX_HEAD = 64 * 1024
_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILERS, _UNTIL_CLOSE, _DONE = range(8)


class TransportError(Exception):
    """An HTTP exchange failed below the level of the response's content."""


class ConnectFailed(TransportError):
    """No connection could be opened (nothing was sent)."""


class Disconnected(TransportError):
    """The connection failed or closed before the response ended."""


class ProtocolError(TransportError):
    """The server's bytes are not an HTTP/1.x response this client can read."""


def header_problem(name: str, value: str) -> str | None:
    """Why ``name: value`` cannot be sent as an HTTP header (None when it can)."""
    if not name or any(ch in name for ch in "\r\n: \t") or "\r" in value or "\n" in value:
        return f"header {name!r}: names and values cannot hold line breaks (nor names a colon or space)"
    return None


def _header_bytes(name: str, value: str) -> bytes:
    problem = header_problem(name, value)
    if problem is not None:
        raise ValueError(problem)
    return f"{name}: {value}\r\n".encode()


class Response:
    """One response: status and headers at once, the body as it arrives.

    Header names are lower case; repeated headers are joined with ``", "``.
    """

    __slots__ = (
        "_body",
        "_buf",
        "_conn",
        "_decomp",
        "_done",
        "_error",
        "_head",
        "_left",
        "_mode",
        "_waiter",
        "headers",
        "keep_alive",
        "status",
    )

    def __init__(self, conn: _Conn, loop: asyncio.AbstractEventLoop) -> None:
        self._conn = conn
        self._buf = bytearray()
        self._head: asyncio.Future[Response] = loop.create_future()
        self._mode = _HEAD
        self._left = 0
        self._body: list[bytes] = []
        self._done = False
        self._error: TransportError | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._decomp: zlib._Decompress | None = None
        self.status = 0
        self.headers: dict[str, str] = {}
        self.keep_alive = True

    # -- consumer side ----------------------------------------------------------------

    async def read(self) -> bytes:
        """The whole (decoded) body."""
        while not self._done:
            if self._error is not None:
                raise self._error
            await self._wait()
        if self._error is not None:
            raise self._error
        body = self._body
        self._body = []
        return body[0] if len(body) == 1 else b"".join(body)

    async def lines(self) -> AsyncIterator[bytes]:
        """The body line by line as it arrives, each with its ``\\n`` (the last may lack it)."""
        rest = b""
        while True:
            if self._body:
                data = rest + b"".join(self._body) if rest else b"".join(self._body)
                self._body = []
                start = 0
                while (end := data.find(b"\n", start)) >= 0:
                    yield data[start : end + 1]
                    start = end + 1
                rest = data[start:]
                continue
            if self._error is not None:
                raise self._error
            if self._done:
                break
            await self._wait()
        if rest:
            yield rest

    async def _wait(self) -> None:
        self._waiter = self._head.get_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    # -- protocol side ----------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        if self._done or self._error is not None:
            self.keep_alive = False  # bytes after the response: the connection is not reused
            return
        self._buf += data
        try:
            self._parse()
        except ProtocolError as exc:
            self.fail(exc)
            self._conn.close()

    def fail(self, exc: TransportError) -> None:
        if self._done or self._error is not None:
            return
        self._error = exc
        self.keep_alive = False
        if not self._head.done():
            self._head.set_exception(exc)
        self._wake()

    def on_eof(self) -> None:
        self.keep_alive = False
        if self._mode == _UNTIL_CLOSE:
            self._finish()
        elif not self._done:
            self.fail(Disconnected(self._early_end()))

    def _early_end(self) -> str:
        if self._mode == _HEAD:
            return "server closed the connection before sending a response"
        if self._mode == _LENGTH:
            return f"connection closed with {self._left} byte(s) of the response body missing"
        return "connection closed before the response body ended"

    def _parse(self) -> None:
        buf = self._buf
        while buf and not self._done:
            mode = self._mode
            if mode == _LENGTH:
                if len(buf) <= self._left:
                    self._left -= len(buf)
                    self._emit(bytes(buf))
                    buf.clear()
                else:
                    self._emit(bytes(buf[: self._left]))
                    del buf[: self._left]
                    self._left = 0
                if self._left == 0:
                    self._finish()
            elif mode == _HEAD:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(buf) > _MAX_HEAD:
                        raise ProtocolError(f"response head longer than {_MAX_HEAD} bytes")
                    return
                head = bytes(buf[:end])
                del buf[: end + 4]
                self._start(head)
            elif mode == _UNTIL_CLOSE:
                self._emit(bytes(buf))
                buf.clear()
            elif mode == _CHUNK_SIZE:
                end = buf.find(b"\r\n")
                if end < 0:
                    if len(buf) > 1024:
                        raise ProtocolError("chunk size line too long")
                    return
                text = bytes(buf[:end]).split(b";", 1)[0].strip()
                del buf[: end + 2]
                try:
                    size = int(text, 16)
                except ValueError:
                    raise ProtocolError(f"bad chunk size {text[:20]!r}") from None
                if size < 0 or not text.isalnum():
                    raise ProtocolError(f"bad chunk size {text[:20]!r}")
                self._left = size
                self._mode = _CHUNK_DATA if size else _TRAILERS
            elif mode == _CHUNK_DATA:
                take = min(self._left, len(buf))
                self._emit(bytes(buf[:take]))
                del buf[:take]
                self._left -= take
                if self._left == 0:
                    self._mode = _CHUNK_END
            elif mode == _CHUNK_END:
                if len(buf) < 2:
                    return
                if buf[:2] != b"\r\n":
                    raise ProtocolError("chunk not followed by CRLF")
                del buf[:2]
                self._mode = _CHUNK_SIZE
            else:  # _TRAILERS: header lines until an empty one
                end = buf.find(b"\r\n")
                if end < 0:
                    if len(buf) > _MAX_HEAD:
                        raise ProtocolError("chunked trailer too long")
                    return
                del buf[: end + 2]
                if end == 0:
                    self._finish()
        if self._done and buf:
            self.keep_alive = False  # more bytes than the response: do not reuse
            buf.clear()

    def _start(self, head: bytes) -> None:
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        code = parts[1] if len(parts) > 1 else ""
        if not parts[0].startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
            raise ProtocolError(f"bad status line {lines[0][:80]!r}")
        status = int(code)
        headers: dict[str, str] = {}
        last = ""
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and last:  # obsolete line folding
                headers[last] += " " + line.strip()
                continue
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                raise ProtocolError(f"bad header line {line[:80]!r}")
            last = name.lower()
            value = value.strip()
            old = headers.get(last)
            headers[last] = value if old is None else f"{old}, {value}"
        if 100 <= status < 200:
            if status == 101:
                raise ProtocolError("server switched protocols (101); not an HTTP/1.1 reply")
            return  # an interim response: the real one follows
        self.status = status
        self.headers = headers
        conn = headers.get("connection", "").lower()
        if parts[0] == "HTTP/1.0":
            self.keep_alive = "keep-alive" in conn
        elif "close" in conn:
            self.keep_alive = False
        te = headers.get("transfer-encoding")
        length = headers.get("content-length")
        if te is not None:
            if te.lower().rsplit(",", 1)[-1].strip() != "chunked":
                raise ProtocolError(f"unsupported transfer-encoding {te!r}")
            self._mode = _CHUNK_SIZE
        elif length is not None:
            values = {v.strip() for v in length.split(",")}
            if len(values) != 1 or not (n := values.pop()).isdigit():
                raise ProtocolError(f"bad content-length {length!r}")
            self._left = int(n)
            self._mode = _LENGTH
        elif status in (204, 304):
            self._mode = _LENGTH
        else:
            self._mode = _UNTIL_CLOSE
            self.keep_alive = False
        coding = headers.get("content-encoding", "identity").lower().strip()
        if coding in ("gzip", "x-gzip", "deflate"):
            self._decomp = zlib.decompressobj(zlib.MAX_WBITS | 32)  # zlib or gzip header
        elif coding != "identity":
            raise ProtocolError(f"unsupported content-encoding {coding!r}")
        self._head.set_result(self)
        if self._mode == _LENGTH and self._left == 0:
            self._finish()

    def _emit(self, data: bytes) -> None:
        if self._decomp is not None:
            try:
                data = self._decomp.decompress(data)
            except zlib.error as exc:
                raise ProtocolError(f"cannot decode the compressed body ({exc})") from None
        if data:
            self._body.append(data)
            self._wake()

    def _finish(self) -> None:
        if self._decomp is not None:
            if not self._decomp.eof:
                self.fail(Disconnected("compressed body ended early"))
                return
            self._decomp = None
        self._mode = _DONE
        self._done = True
        self._wake()


class _Conn(asyncio.Protocol):
    """One connection; at most one exchange at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.response: Response | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        resp = self.response
        if resp is None:  # bytes while idle (e.g. a 408 before closing): do not reuse
            self.close()
            return
        resp.feed(data)

    def eof_received(self) -> bool:
        self.lost = True
        if self.response is not None:
            self.response.on_eof()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.response is not None:
            if exc is None:
                self.response.on_eof()
            else:
                self.response.fail(Disconnected(f"{type(exc).__name__}: {exc}"))

    def close(self) -> None:
        self.lost = True
        if self.transport is not None:
            self.transport.close()


class Http1Pool:
    """Keep-alive connections to one origin.

    Args:
        base_url: ``http(s)://host[:port][/prefix]``; request paths are appended.
        headers: sent with every request (``Host``, ``Content-Length``,
            ``Accept-Encoding`` and ``User-Agent`` are set here).
        max_idle: idle connections kept for reuse (the caller bounds concurrency).
        ssl_context: for ``https`` (default: the system trust store, host name checked).

    Raises:
        ValueError: an unsupported URL scheme, or a header value with a line break.
    """

    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str],
        *,
        max_idle: int = 100,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        url = urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.host = url.hostname
        tls = url.scheme == "https"
        self.port = url.port or (443 if tls else 80)
        self.prefix = url.path.rstrip("/")
        self._ssl = (ssl_context or ssl.create_default_context()) if tls else None
        default_port = self.port == (443 if tls else 80)
        host = f"[{self.host}]" if ":" in self.host else self.host
        fixed = {
            "Host": host if default_port else f"{host}:{self.port}",
            "User-Agent": f"nullband/{__version__}",
            "Accept-Encoding": "gzip, deflate",
            **headers,
        }
        self._fixed = b"".join(_header_bytes(k, v) for k, v in fixed.items())
        self._max_idle = max_idle
        self._idle: list[_Conn] = []
        self._closed = False

    async def _connect(self) -> _Conn:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(
                _Conn,
                self.host,
                self.port,
                ssl=self._ssl,
                server_hostname=self.host if self._ssl is not None else None,
            )
        except OSError as exc:  # ssl.SSLError and socket.gaierror included
            raise ConnectFailed(f"{type(exc).__name__}: {exc}") from None
        return conn

    async def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> Response:
        """Send a POST and return once the response's status and headers arrived.

        The caller must hand the response back with :meth:`release` (in a ``finally``).
        """
        conn = None
        idle = self._idle
        while idle:
            c = idle.pop()
            if not c.lost:
                conn = c
                break
            c.close()
        if conn is None:
            conn = await self._connect()
        extra = b"".join(_header_bytes(k, v) for k, v in headers.items()) if headers else b""
        head = b"POST %s HTTP/1.1\r\n%s%sContent-Length: %d\r\n\r\n" % (
            (self.prefix + path).encode(),
            self._fixed,
            extra,
            len(body),
        )
        resp = Response(conn, asyncio.get_running_loop())
        conn.response = resp
        assert conn.transport is not None
        conn.transport.write(head + body)
        try:
            return await resp._head
        except BaseException:
            conn.response = None
            conn.close()
            raise

    def release(self, resp: Response) -> None:
        """Reuse the response's connection if the exchange ended cleanly, else close it."""
        conn = resp._conn
        if conn.response is not resp:
            return
        conn.response = None
        if (
            resp._done
            and resp._error is None
            and resp.keep_alive
            and not conn.lost
            and not self._closed
            and len(self._idle) < self._max_idle
        ):
            self._idle.append(conn)
        else:
            conn.close()

    async def close(self) -> None:
        """Close idle connections; connections in use close when released."""
        self._closed = True
        while self._idle:
            self._idle.pop().close()
        await asyncio.sleep(0)  # let the transports run their close callbacks
