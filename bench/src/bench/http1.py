"""A lean HTTP/1.1 keep-alive client for the load generator: one request at a time per connection, responses
parsed by httptools (the parser uvicorn uses).

The load generator shares the 2 cores with the system it measures, so whatever it spends is taken from the
api. aiohttp's client cost about 0.2 ms of CPU per request there (py-spy on a load-generator process during
`bench pipeline`: 35-45 % of its samples in aiohttp's request machinery); this client writes each request in
one call and parses the answer in C. It does only what the bench needs: POST with a body, a status and a body
back, no redirects, no chunked request bodies, no TLS.
"""

import asyncio
from collections import deque
from typing import cast

import httptools


class _Connection(asyncio.Protocol):
    __slots__ = ("_body", "_parser", "_status", "_waiter", "alive", "transport")

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.alive = True
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self._body: list[bytes] = []
        self._status = 0

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ConnectionError(f"bad HTTP response: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.alive = False
        self._fail(ConnectionError("connection closed by the server"))

    # httptools callbacks
    def on_headers_complete(self) -> None:
        self._status = self._parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if not self._parser.should_keep_alive():
            self.alive = False
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result((self._status, b"".join(self._body)))

    def _fail(self, exc: Exception) -> None:
        self.alive = False
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        if self.transport is not None:
            self.transport.close()

    def request(self, raw: bytes) -> "asyncio.Future[tuple[int, bytes]]":
        assert self.transport is not None and self._waiter is None
        self._body = []
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return self._waiter


class Http1Pool:
    """Up to `size` keep-alive connections to one server; requests beyond wait for a free connection."""

    def __init__(self, host: str, port: int, *, size: int, timeout: float):
        self.host, self.port, self.size, self.timeout = host, port, size, timeout
        self._idle: list[_Connection] = []
        self._open = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """(status, body). Raises ConnectionError or TimeoutError."""
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        raw = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
        ).encode() + body
        connection = await self._acquire()
        try:
            async with asyncio.timeout(self.timeout):
                return await connection.request(raw)
        except BaseException:
            connection.alive = False
            if connection.transport is not None:
                connection.transport.close()
            raise
        finally:
            self._release(connection)

    async def _acquire(self) -> _Connection:
        while True:
            while self._idle:
                connection = self._idle.pop()
                if connection.alive:
                    return connection
                self._open -= 1
            if self._open < self.size:
                self._open += 1
                try:
                    loop = asyncio.get_running_loop()
                    _, connection = await loop.create_connection(_Connection, self.host, self.port)
                except BaseException:
                    self._open -= 1
                    self._wake_one()
                    raise
                return connection
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter

    def _release(self, connection: _Connection) -> None:
        if connection.alive:
            self._idle.append(connection)
        else:
            self._open -= 1
        self._wake_one()

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def close(self) -> None:
        for connection in self._idle:
            if connection.transport is not None:
                connection.transport.close()
        self._idle.clear()
