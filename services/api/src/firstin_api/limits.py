"""Only JSON bodies, the answer to cross-site form posts (body sizes: firstin_serving.BodySizeLimit)."""

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send


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
