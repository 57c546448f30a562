"""uvicorn's httptools protocol with the limits a public HTTP server needs and uvicorn does not set.

uvicorn reads a request head of any size (a 100 MB header was read for 49 s, growing the worker by ~180 MB and
stalling every other request on its loop) with any number of headers, and waits forever for a head or a body that
arrives a byte at a time (slowloris). Here:

- a head over `max_head_bytes`, or with more than `max_headers` headers, is answered `431` and the connection
  closed, before the parser has buffered more than one read of it;
- a head must arrive within `head_timeout` of its first byte, and a body within `body_timeout` of its head, or
  the request is answered `408` and the connection closed;
- a new connection that sends nothing is closed after uvicorn's keep-alive timeout, as an idle one is after a
  response (uvicorn arms that timer only after a first response).

A websocket upgrade hands the connection to the websocket protocol: the timers stop there; Engine.IO's pings
govern idle websockets.
"""

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from firstin_serving.logs import ThrottledWarnings

logger = logging.getLogger("uvicorn.error")

_HEAD_END = b"\r\n\r\n"


@dataclass(frozen=True)
class HttpLimits:
    max_head_bytes: int = 16_384
    max_headers: int = 100
    head_timeout: float = 10.0
    body_timeout: float = 10.0


class _TooManyHeaders(Exception):
    pass


_refusals = ThrottledWarnings(logger)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """Give uvicorn `functools.partial(GuardedHttpToolsProtocol, limits=...)` as its `http` protocol."""

    def __init__(self, *args: Any, limits: HttpLimits = HttpLimits(), **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.limits = limits
        self._reading_head = True  # between requests, or inside a request line and headers
        self._reading_body = False
        self._head_bytes = 0
        self._refused_head = False
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self.timeout_keep_alive_handler)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._reading_head and self._head_bytes + len(data) > self.limits.max_head_bytes:
            # Bytes past the head's end (a body, a pipelined request) do not count against it.
            room = max(self.limits.max_head_bytes - self._head_bytes, 0)
            if data.find(_HEAD_END, 0, room) < 0:
                self._refuse(431, f"request head over {self.limits.max_head_bytes} bytes")
                return
        if self._reading_head:
            self._head_bytes += len(data)
        super().data_received(data)
        # A deadline only for what this read left unfinished: a whole request in one read arms no timer.
        if self._deadline is None and not self.transport.is_closing():
            if self._reading_head and self._head_bytes:
                self._arm(self.limits.head_timeout, "request head")
            elif self._reading_body:
                self._arm(self.limits.body_timeout, "request body")

    def send_400_response(self, msg: str) -> None:
        # uvicorn answers every parser error here, including the one on_header raises to stop a long head.
        if self._refused_head:
            self._refuse(431, f"more than {self.limits.max_headers} request headers")
        else:
            super().send_400_response(msg)

    def handle_websocket_upgrade(self) -> None:
        self._disarm()
        self._reading_head = self._reading_body = False
        super().handle_websocket_upgrade()

    # Parser callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(self.headers) >= self.limits.max_headers:  # uvicorn's list of this request's headers so far
            self._refused_head = True
            raise _TooManyHeaders
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._reading_head = False
        self._reading_body = True
        self._head_bytes = 0
        self._disarm()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        self._reading_body = False
        self._reading_head = True
        super().on_message_complete()

    # Deadlines

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired, what, seconds)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self, what: str, seconds: float) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        self._refuse(408, f"{what} not received within {seconds:g} s")

    def _refuse(self, status: int, reason: str) -> None:
        """Answer `status` and close: what is still on its way is not worth reading."""
        self._disarm()
        client = "%s:%d" % self.client if self.client else "unknown client"  # noqa: UP031
        _refusals.warning(self.loop.time(), "%s refused with %d: %s", client, status, reason)
        in_flight = self.cycle is not None and not self.cycle.response_complete
        if in_flight:
            self.cycle.disconnected = True  # the app, if it runs on, finds its client gone
            self.cycle.message_event.set()
            if self.cycle.response_started:  # a status now would land inside that response
                self.transport.close()
                return
        body = reason.encode()
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: ",
            str(len(body)).encode(),
            b"\r\nconnection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()
