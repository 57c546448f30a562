"""A lean Socket.IO client for the load generator: Engine.IO v4 over the websocket transport, on aiohttp.

python-socketio's AsyncClient is the reference client (the tests use it), but it costs several tasks, a
reconnection machinery and a few hundred kB per connection; ten thousand of them do not fit next to the
services on a 2-core machine. This client speaks the same wire protocol as a browser on the websocket
transport (no long-polling first):

    server: 0{"sid":..,"pingInterval":..}       Engine.IO OPEN
    client: 40{"token":"..."}                    Socket.IO CONNECT to "/" with the auth payload
    server: 40{"sid":..} | 44{"message":..}      connected | refused
    server: 42["order",{...}]                    an event
    server: 2            client: 3               Engine.IO ping / pong (the server pings, v4)

Every `order` event is recorded with the monotonic time it was read, which the load generator compares
with the time the order's 202 came back.
"""

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp

EventHandler = Callable[["BuyerConnection", float, dict[str, Any]], None]


class SocketRefused(Exception):
    """The notifier answered CONNECT with an error (44): a bad or expired token."""


class BuyerConnection:
    """One buyer's socket. `events` holds (monotonic time, payload) of every `order` event, in order."""

    __slots__ = ("_reader", "buyer", "closed_by_server", "events", "on_event", "other_events", "replayed", "ws")

    def __init__(self, buyer: int, on_event: EventHandler | None = None):
        self.buyer = buyer
        self.on_event = on_event
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.other_events = 0  # events of other names (progress, shutdown...), counted, not kept
        self.replayed: list[dict[str, Any]] = []  # payloads of `replayed`: the replay on connect is done
        self.closed_by_server = False
        self._reader: asyncio.Task[None] | None = None

    async def connect(self, session: aiohttp.ClientSession, notifier_url: str, token: str, timeout: float) -> None:
        url = notifier_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1).rstrip("/")
        ws = await session.ws_connect(
            f"{url}/socket.io/?EIO=4&transport=websocket",
            autoping=True,
            autoclose=True,
            compress=0,
            timeout=aiohttp.ClientWSTimeout(ws_close=2.0),
        )
        self.ws = ws
        try:
            async with asyncio.timeout(timeout):
                opening = await ws.receive()
                if opening.type != aiohttp.WSMsgType.TEXT or not opening.data.startswith("0"):
                    raise ConnectionError(f"no Engine.IO open packet: {opening.type} {opening.data!r}")
                await ws.send_str("40" + json.dumps({"token": token}, separators=(",", ":")))
                while True:
                    msg = await ws.receive()
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        raise ConnectionError(f"socket closed during connect: {msg.type} {msg.data!r}")
                    data: str = msg.data
                    if data == "2":
                        await ws.send_str("3")
                    elif data.startswith("40"):
                        break
                    elif data.startswith("44"):
                        raise SocketRefused(data[2:])
                    elif data.startswith("42"):
                        self._dispatch(data)
        except BaseException:
            await ws.close()
            raise
        self._reader = asyncio.create_task(self._read())

    def _dispatch(self, data: str) -> None:
        now = time.monotonic()
        try:
            name, *args = json.loads(data[2:])
        except (ValueError, TypeError):
            return
        if name == "order" and args and isinstance(args[0], dict):
            self.events.append((now, args[0]))
            if self.on_event is not None:
                self.on_event(self, now, args[0])
        elif name == "replayed" and args and isinstance(args[0], dict):
            self.replayed.append(args[0])
        else:
            self.other_events += 1

    async def _read(self) -> None:
        assert self.ws is not None
        ws = self.ws
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            data: str = msg.data
            if data.startswith("42"):
                self._dispatch(data)
            elif data == "2":
                await ws.send_str("3")
            elif data.startswith("41") or data == "1":
                self.closed_by_server = True
                break
        if not ws.closed and not self.closed_by_server:
            self.closed_by_server = True

    @property
    def connected(self) -> bool:
        return self.ws is not None and not self.ws.closed and not self.closed_by_server

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        if self.ws is not None and not self.ws.closed:
            try:
                await self.ws.send_str("41")
            except (ConnectionError, RuntimeError):
                pass
            await self.ws.close()
