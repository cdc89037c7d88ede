"""Starting and stopping the test server: in the caller's event loop or in a thread."""

from __future__ import annotations

import asyncio
import socket
import threading
from types import TracebackType
from typing import Any

from aiohttp import web

from nullband.errors import UsageError
from nullband.testserver.app import ChatApp
from nullband.testserver.config import ServerConfig
from nullband.testserver.metrics import ServerMetrics
from nullband.testserver.reply import Responder
from nullband.testserver.stats import CaseStats
from nullband.testserver.timing import precise_event_loop


class TestServer:
    """A scriptable OpenAI-compatible server on loopback, for tests and users' pipelines.

    Args:
        config: a :class:`ServerConfig`, a dict of its fields, or None for defaults
            (echo the last user message, no delay, no faults).
        responder: optional callable ``(ServerRequest) -> Reply | str | None`` (sync or
            async) consulted before the config's rules; None falls through to them.
        host: address to bind (loopback by default).
        port: port to bind; 0 picks a free one.

    Use it as ``async with TestServer(...) as srv:`` inside an event loop, or as
    ``with TestServer(...) as srv:`` (or ``srv = TestServer(...).start_in_thread()`` ...
    ``srv.stop()``) from synchronous code, where it runs in a background thread.

    Example:
        >>> with TestServer({"latency": {"ttft_s": 0.05}}) as srv:  # doctest: +SKIP
        ...     print(srv.base_url)  # http://127.0.0.1:PORT/v1
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        config: ServerConfig | dict[str, Any] | None = None,
        *,
        responder: Responder | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if config is None:
            config = ServerConfig()
        elif isinstance(config, dict):
            config = ServerConfig.model_validate(config)
        self.config = config
        self.host = host
        self._port = port
        self.stats = CaseStats()
        self.metrics = ServerMetrics(config.kv_cache_tokens)
        self._chat = ChatApp(config, responder, self.stats, self.metrics)
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listener: asyncio.Server | None = None

    # -- addresses ----------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (known once started)."""
        if self._runner is None:
            raise UsageError(
                "the test server is not started; use 'async with' or start_in_thread()"
            )
        return self._port

    @property
    def url(self) -> str:
        """Root URL, e.g. ``http://127.0.0.1:8080``."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """OpenAI base URL, e.g. ``http://127.0.0.1:8080/v1``."""
        return f"{self.url}/v1"

    @property
    def chat_requests(self) -> int:
        """Chat requests received so far (the count the model switch looks at)."""
        return self._chat.n_chat

    # -- async lifecycle ----------------------------------------------------------------

    async def start(self) -> TestServer:
        """Bind and start serving in the running event loop."""
        if self._runner is not None:
            raise UsageError("the test server is already started")
        app = self._chat.build()
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self._port))
        except OSError as exc:
            sock.close()
            await runner.cleanup()
            raise UsageError(
                f"cannot bind the test server to {self.host}:{self._port}: {exc}",
                hint="pick another --port, or 0 for a free one",
            ) from None
        self._port = int(sock.getsockname()[1])
        server = runner.server
        assert server is not None  # set by setup()
        # Not a web.SockSite: the protocols are wrapped so that each request is dated by
        # the arrival of its bytes (the handler's clock for TTFT starts there).
        loop = asyncio.get_running_loop()
        self._listener = await loop.create_server(
            self._chat.arrivals.wrap(server), sock=sock, backlog=2048
        )
        self._runner = runner
        return self

    async def aclose(self) -> None:
        """Stop serving; hanging (timeout-fault) requests are released first."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        if self._chat.closing is not None:
            self._chat.closing.set()
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()  # stop accepting; open connections are shut down by cleanup
        await runner.cleanup()

    async def __aenter__(self) -> TestServer:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- thread lifecycle ---------------------------------------------------------------

    def start_in_thread(self, timeout_s: float = 30.0) -> TestServer:
        """Serve from a daemon thread with its own event loop; returns self once ready.

        Raises:
            UsageError: the server could not start (e.g. the port is taken).
        """
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = precise_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.aclose())
            loop.close()

        self._thread = threading.Thread(target=serve, name="nullband-testserver", daemon=True)
        self._thread.start()
        if not ready.wait(timeout_s):
            raise UsageError(f"the test server did not start within {timeout_s} s")
        if failure:
            self._thread.join()
            self._thread = None
            exc = failure[0]
            if isinstance(exc, UsageError):
                raise exc
            raise UsageError(f"the test server failed to start: {exc}") from exc
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop a server started with :meth:`start_in_thread` (idempotent)."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        if self._chat.closing is not None:
            loop.call_soon_threadsafe(self._chat.closing.set)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout_s)
        self._thread = None
        self._loop = None

    def __enter__(self) -> TestServer:
        return self.start_in_thread()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
