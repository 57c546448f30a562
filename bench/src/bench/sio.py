"""The benchmark's Socket.IO client: Engine.IO v4 over the websocket transport, as a bare asyncio protocol (no task,
no reader loop, no HTTP client library per socket). Every scenario that opens buyer sockets uses it.

python-socketio's AsyncClient is the reference client (the tests use it), but it costs several tasks, a
reconnection machinery and a few hundred kB per connection, and an aiohttp websocket costs the load generator
about as much CPU per connect as the notifier spends accepting it. On a 2-core machine the generator shares the
cores with the system under test, so every millisecond it spends is one the system does not get. This client
speaks the same wire protocol as a browser on the websocket transport (no long-polling first):

    client: GET /socket.io/?EIO=4&transport=websocket (Upgrade: websocket)
    server: 0{"sid":..,"pingInterval":..}       Engine.IO OPEN
    client: 40{"token":"..."}                    Socket.IO CONNECT to "/" with the auth payload
    server: 40{"sid":..} | 44{"message":..}      connected | refused
    server: 42["order",{...}]                    an event
    server: 2            client: 3               Engine.IO ping / pong (the server pings, v4)

Every event is stamped with the client's clock when its bytes were read (time.monotonic by default: system-wide
on Linux, so processes compare their stamps). With `deflate` the client offers permessage-deflate, as browsers do.
"""

import asyncio
import base64
import contextlib
import json
import os
import time
import zlib
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import urlsplit

# (the connection, when the event was read, the event's name, its first argument)
EventHandler = Callable[["BuyerConnection", float, str, Any], None]

_HANDSHAKE, _OPENING, _CONNECTING, _CONNECTED, _CLOSED = range(5)
_TEXT, _BINARY, _CLOSE, _PING, _PONG = 0x1, 0x2, 0x8, 0x9, 0xA


def pop_frame(buf: bytearray) -> tuple[int, bytes] | None:
    """The next whole websocket frame from the server at the head of `buf`, taken out of it: (its first byte: FIN,
    RSV and opcode bits; its payload). None while the frame is incomplete. Server frames are never masked."""
    if len(buf) < 2:
        return None
    b0, b1 = buf[0], buf[1]
    if b1 & 0x80:
        raise ConnectionError("masked frame from the server")
    n, pos = b1 & 0x7F, 2
    if n == 126:
        if len(buf) < 4:
            return None
        n, pos = int.from_bytes(buf[2:4], "big"), 4
    elif n == 127:
        if len(buf) < 10:
            return None
        n, pos = int.from_bytes(buf[2:10], "big"), 10
    end = pos + n
    if len(buf) < end:
        return None
    payload = bytes(buf[pos:end])
    del buf[:end]
    return b0, payload


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A final websocket frame from the client. Client frames must be masked; an all-zero masking key leaves the
    payload as it is (cheap, and valid)."""
    n = len(payload)
    if n < 126:
        header = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        header = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    return header + b"\0\0\0\0" + payload


class SocketRefused(ConnectionError):
    """The notifier answered CONNECT with an error (44): a bad or expired token."""


class BuyerConnection(asyncio.Protocol):
    """One buyer's socket. `events` holds (read time, payload) of every `order` event, in order; `replayed` the
    payloads of `replayed` (the replay on connect is done); other events are counted. `on_event` hears them all."""

    # Thousands of these live in one process: no per-instance dict.
    __slots__ = (
        "_buf",
        "_clock",
        "_frag",
        "_frag_compressed",
        "_frag_op",
        "_host",
        "_inflater",
        "_ready",
        "_state",
        "_token",
        "_transport",
        "buyer",
        "closed_by_server",
        "compressed_frames",
        "connected_at",
        "deflate",
        "events",
        "on_event",
        "other_events",
        "replayed",
    )

    def __init__(
        self,
        buyer: int,
        on_event: EventHandler | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        deflate: bool = False,
    ):
        self.buyer = buyer
        self.on_event = on_event
        self.deflate = deflate
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.replayed: list[dict[str, Any]] = []
        self.other_events = 0  # events of other names (progress, shutdown...), counted, not kept
        self.compressed_frames = 0
        self.closed_by_server = False
        self.connected_at: float | None = None  # the clock when the notifier's CONNECT answer was read
        self._clock = clock
        self._state = _HANDSHAKE
        self._token = ""
        self._host = ""
        self._buf = bytearray()
        self._frag: bytearray | None = None  # a fragmented message's payload so far
        self._frag_op = 0
        self._frag_compressed = False
        self._inflater: Any = None  # zlib decompressor, once the server accepted permessage-deflate
        self._transport: asyncio.Transport | None = None
        self._ready: asyncio.Future[None] | None = None

    async def connect(self, notifier_url: str, token: str, timeout: float) -> None:
        url = urlsplit(notifier_url)
        host, port = url.hostname or "127.0.0.1", url.port or 80
        loop = asyncio.get_running_loop()
        self._token, self._host, self._ready = token, f"{host}:{port}", loop.create_future()
        try:
            async with asyncio.timeout(timeout):
                await loop.create_connection(lambda: self, host, port)
                await self._ready
        except BaseException:
            self._close_transport()
            raise

    # -- asyncio.Protocol ---------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        key = base64.b64encode(os.urandom(16)).decode()
        self._transport.write(
            (
                "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                f"Host: {self._host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                + ("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" if self.deflate else "")
                + "\r\n"
            ).encode()
        )

    def connection_lost(self, exc: Exception | None) -> None:
        if self._state != _CLOSED:
            self.closed_by_server = True
        self._state = _CLOSED
        self._fail(ConnectionError(f"socket closed during connect: {exc!r}"))

    def data_received(self, data: bytes) -> None:
        now = self._clock()
        buf = self._buf
        buf += data
        if self._state == _HANDSHAKE:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end])
            del buf[: end + 4]
            if not head.startswith(b"HTTP/1.1 101"):
                self._fail(ConnectionError(f"websocket handshake refused: {head[:200]!r}"))
                self._close_transport()
                return
            self._state = _OPENING
            if b"permessage-deflate" in head.lower():
                self._inflater = zlib.decompressobj(-15)  # context takeover: one decompressor per socket
        while True:
            try:
                frame = pop_frame(buf)
            except ConnectionError as exc:
                self._fail(exc)
                self._close_transport()
                return
            if frame is None:
                return
            b0, payload = frame
            self._frame(bool(b0 & 0x80), bool(b0 & 0x40), b0 & 0x0F, payload, now)

    # -- websocket ----------------------------------------------------------------------------------------
    def _frame(self, fin: bool, compressed: bool, opcode: int, payload: bytes, now: float) -> None:
        if opcode == 0:  # continuation
            if self._frag is None:
                return
            self._frag += payload
            if not fin:
                return
            opcode, payload, compressed, self._frag = self._frag_op, bytes(self._frag), self._frag_compressed, None
        elif opcode in (_TEXT, _BINARY) and not fin:
            self._frag, self._frag_op, self._frag_compressed = bytearray(payload), opcode, compressed
            return
        if compressed and opcode in (_TEXT, _BINARY) and self._inflater is not None:
            payload = self._inflater.decompress(payload + b"\x00\x00\xff\xff")
            self.compressed_frames += 1
        if opcode == _TEXT:  # the server sends each Engine.IO packet as one text message
            self._packet(payload.decode(), now)
        elif opcode == _PING:  # uvicorn's keepalive: pong with the same payload
            self._send(_PONG, payload)
        elif opcode == _CLOSE:
            with contextlib.suppress(Exception):
                self._send(_CLOSE, payload[:2])
            self.closed_by_server = True
            self._fail(ConnectionError("closed by the server"))
            self._close_transport()

    # -- Engine.IO / Socket.IO ----------------------------------------------------------------------------
    def _packet(self, text: str, now: float) -> None:
        if text.startswith("42"):
            self._dispatch(text, now)
        elif text == "2":
            self._send(_TEXT, b"3")
        elif self._state == _OPENING and text.startswith("0"):
            self._send(_TEXT, ("40" + json.dumps({"token": self._token}, separators=(",", ":"))).encode())
            self._state = _CONNECTING
        elif self._state == _CONNECTING and text.startswith("40"):
            self._state = _CONNECTED
            self.connected_at = now
            if self._ready is not None and not self._ready.done():
                self._ready.set_result(None)
        elif text.startswith("44"):
            self._fail(SocketRefused(text[2:]))
            self._close_transport()
        elif text.startswith("41") or text == "1":
            self.closed_by_server = True
            self._close_transport()

    def _dispatch(self, data: str, now: float) -> None:
        try:
            name, *args = json.loads(data[2:])
        except (ValueError, TypeError):
            return
        payload = args[0] if args else None
        if name == "order" and isinstance(payload, dict):
            self.events.append((now, payload))
        elif name == "replayed" and isinstance(payload, dict):
            self.replayed.append(payload)
        else:
            self.other_events += 1
        if self.on_event is not None:
            self.on_event(self, now, name, payload)

    def _send(self, opcode: int, payload: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(client_frame(opcode, payload))

    def _fail(self, exc: Exception) -> None:
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(exc)
            self._ready.exception()  # retrieved here: connect() raises it

    def _close_transport(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()

    @property
    def connected(self) -> bool:
        return self._state == _CONNECTED and not self.closed_by_server

    def close_now(self) -> None:
        """Leave: a Socket.IO DISCONNECT if connected, then the socket closes (no waiting for anything)."""
        if self._state == _CONNECTED:
            with contextlib.suppress(Exception):
                self._send(_TEXT, b"41")
        self._state = _CLOSED
        self._close_transport()

    async def close(self) -> None:
        self.close_now()
