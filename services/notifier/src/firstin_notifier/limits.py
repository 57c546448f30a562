"""The notifier refuses an HTTP body over a small limit with 413 and closes the connection.

Socket.IO clients send the notifier little: the CONNECT packet with the token, pongs, and on long-polling those
same packets as POST bodies. engine.io checks a declared length against its own limit but then leaves a large
body unread and the request unanswered (30 POSTs of 1 MB held 30 connections for more than 12 minutes); a
chunked body it reads whole into memory. Here the length is decided before engine.io sees the request.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodySizeLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit() or int(declared) > self.max_bytes:
                await self._too_large(send)
                return
            await self.app(scope, receive, send)  # the server reads no more than the declared length
            return
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left
            chunks.append(message.get("body", b""))
            received += len(chunks[-1])
            if received > self.max_bytes:
                await self._too_large(send)
                return
            if not message.get("more_body", False):
                break
        whole: list[Message] = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replay() -> Message:
            return whole.pop() if whole else await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        body = f'{{"detail":"request body over {self.max_bytes} bytes"}}'.encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),  # the rest of the body is not read: the connection cannot be reused
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
