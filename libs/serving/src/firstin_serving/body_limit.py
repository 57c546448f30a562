"""Refuse a request body over a small limit with 413 before it is read into memory, and close the connection.

A declared length over the limit is refused before a byte of the body is read. A chunked body (no
Content-Length) is read here, up to the limit, before the app sees it: an app that reads the body itself turns
an error raised while reading into its own answer (FastAPI answers 400), and engine.io would read a chunked
body whole. The 413 closes the connection. A chunked body's rest is read and dropped first, up to LINGER_BYTES
or LINGER_SECONDS (a web server's "lingering close"): a client that sends its whole body before it reads the
answer would otherwise meet a reset, which discards the 413 unread. (A declared length is answered at once:
the answer can come before the body, and a client that sends a body far over its limit anyway is not served.)
"""

import asyncio
import json
import time

from firstin_serving.asgi import ASGIApp, Message, Receive, Scope, Send

LINGER_BYTES = 1_048_576
LINGER_SECONDS = 1.0


class BodySizeLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit() or int(declared) > self.max_bytes:
                await self._too_large(send)
            else:  # within the limit, and the server reads no more than the declared length
                await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay(message, receive), send)  # the client left: the app hears it
                return
            chunks.append(message.get("body", b""))
            received += len(chunks[-1])
            if received > self.max_bytes:
                if message.get("more_body", False):
                    await _drop_the_rest(receive)
                await self._too_large(send)
                return
            if not message.get("more_body", False):
                break
        body: Message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay(body, receive), send)

    async def _too_large(self, send: Send) -> None:
        body = json.dumps({"detail": f"request body over {self.max_bytes} bytes"}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def _drop_the_rest(receive: Receive) -> None:
    """Read what is still coming of a body, up to LINGER_BYTES or LINGER_SECONDS, whichever comes first
    (uvicorn's receive hears nothing more once the response is complete: this comes before it)."""
    dropped = 0
    deadline = time.monotonic() + LINGER_SECONDS
    while dropped < LINGER_BYTES:
        try:
            message = await asyncio.wait_for(receive(), max(deadline - time.monotonic(), 0))
        except TimeoutError:
            return  # a client that waits for the answer before it sends more
        if message["type"] != "http.request":
            return
        dropped += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def _replay(first: Message, receive: Receive) -> Receive:
    """A `receive` that first hands out the message already read, then reads on."""
    pending = [first]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed
