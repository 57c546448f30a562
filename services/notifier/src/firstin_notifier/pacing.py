"""Sockets that leave in a burst wait their turn, so that the buyers who stay are not served late.

Forgetting a socket takes several steps on the event loop (Engine.IO's reader and writer tasks end, Socket.IO's
disconnect handlers run, the transport closes). When thousands leave at once (a drop ends, a page reloads for
everyone), each step of each of them queues up in one turn of the loop, and an outcome that arrives meanwhile
waits behind all of them: 5,000 leaving sockets delayed the others' events by up to 0.6 s. Here a disconnect is
let through to Engine.IO at most `per_turn` at a time per loop turn; between two turns the loop reads Redis and
writes the waiting events. Forgetting them all takes as long as before, and nobody waits on it.
"""

import asyncio
import re
from collections import deque

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class DisconnectPacer:
    def __init__(self, per_turn: int = 64):
        self.per_turn = per_turn
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._releasing = False

    async def turn(self) -> None:
        """Wait until this disconnect's turn comes."""
        loop = asyncio.get_running_loop()
        ticket = loop.create_future()
        self._waiting.append(ticket)
        if not self._releasing:
            self._releasing = True
            loop.call_soon(self._release, loop)
        await ticket

    def _release(self, loop: asyncio.AbstractEventLoop) -> None:
        for _ in range(min(self.per_turn, len(self._waiting))):
            ticket = self._waiting.popleft()
            if not ticket.done():
                ticket.set_result(None)
        if self._waiting:
            loop.call_soon(self._release, loop)  # the next turn: I/O is polled in between
        else:
            self._releasing = False


# Engine.IO MESSAGE (4) carrying a Socket.IO DISCONNECT (1), for the default or a named namespace: a client that
# leaves politely (socket.disconnect()) says so before it closes the websocket.
_LEAVING = re.compile(r"41(?:/[^,]*,)?$")


class PacedDisconnects:
    """An ASGI wrapper: a websocket's end, or a client's Socket.IO DISCONNECT, reaches the app when the pacer
    says so."""

    def __init__(self, app: ASGIApp, pacer: DisconnectPacer):
        self.app = app
        self.pacer = pacer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return

        async def paced_receive() -> Message:
            message = await receive()
            if message["type"] == "websocket.disconnect" or _LEAVING.match(message.get("text") or ""):
                await self.pacer.turn()
            return message

        await self.app(scope, paced_receive, send)
