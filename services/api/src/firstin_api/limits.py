"""Refuse request bodies over a small limit with 413 before they are read into memory.

A chunked body (no Content-Length) is read here, up to the limit, before the app sees it: an app that reads the
body itself turns any error raised while reading into its own answer (FastAPI answers 400), so the limit must
be decided before the app starts."""

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodySizeLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._too_large(scope, receive, send)
            return

        if declared is not None:
            await self.app(scope, receive, send)  # within the limit, and the server stops at the declared length
            return
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay(message, receive), send)
                return
            chunks.append(message.get("body", b""))
            received += len(chunks[-1])
            if received > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        body: Message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay(body, receive), send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse({"detail": f"request body over {self.max_bytes} bytes"}, status_code=413)
        await response(scope, receive, send)


def _replay(first: Message, receive: Receive) -> Receive:
    """A `receive` that first hands out the message already read, then reads on."""
    pending = [first]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


class JsonBodiesOnly:
    """A request that carries a body must say it is JSON (`Content-Type: application/json`), else 415.

    Browsers send `text/plain`, form and multipart bodies across sites without asking the server first (no CORS
    preflight): accepting them would let any page place orders with its visitors' browsers. Checked ahead of
    every route, so each path that takes a body answers alike."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("POST", "PUT", "PATCH"):
            headers = dict(scope["headers"])
            media_type = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
            has_body = headers.get(b"content-length", b"0") != b"0" or b"transfer-encoding" in headers
            is_json = media_type == b"application/json" or (
                media_type.startswith(b"application/") and media_type.endswith(b"+json")
            )
            if has_body and not is_json:
                response = JSONResponse({"detail": "send the body as JSON (Content-Type: application/json)"}, 415)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
