"""uvicorn's httptools protocol, with each response leaving in one system call instead of two.

uvicorn writes a response's head when the app sends `http.response.start` and its body on
`http.response.body`: two socket writes for a 202 of a few hundred bytes. Under a sale those writes led the
api's profile (bench pipeline --profile: 28 % of the api's samples in them). Here a response's head is held
until its body is written, and both leave in one write.
"""

import asyncio
from typing import Any

from firstin_serving import GuardedHttpToolsProtocol


class _CoalescingTransport:
    """The connection's transport, except that a response's head waits for the first write after it (its body)
    and leaves with it. Should nothing follow within the loop's turn, the head goes alone at the end of it."""

    __slots__ = ("_head", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop):
        self._transport = transport
        self._loop = loop
        self._head: bytes | None = None

    def write(self, data: bytes) -> None:
        if self._head is not None:
            data, self._head = self._head + data, None
        elif data.startswith(b"HTTP/"):  # uvicorn writes a response head by itself, then the body
            self._head = data
            self._loop.call_soon(self._flush)
            return
        self._transport.write(data)

    def _flush(self) -> None:
        if self._head is not None:
            head, self._head = self._head, None
            if not self._transport.is_closing():
                self._transport.write(head)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(GuardedHttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        coalescing = _CoalescingTransport(transport, self.loop)
        super().connection_made(coalescing)  # type: ignore[arg-type]
