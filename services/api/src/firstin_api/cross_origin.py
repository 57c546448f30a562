"""CORS, so that a shop's own pages on another origin can call the api: Starlette's CORSMiddleware, for the
requests that carry an `Origin` header.

The origins are FIRSTIN_CORS_ALLOWED_ORIGINS, the notifier's list of pages that may open a socket: a page allowed
one is allowed the other. A request with no `Origin` (a server, a load generator, a same-origin GET) goes straight
on: CORSMiddleware would wrap its `send` and rewrite its response head to add `Vary: Origin`, on the order path
that almost all of a sale's traffic takes (6 µs a request, against 0.5 µs for this check). Answers to requests
without `Origin` carry no `Vary: Origin` then: the api's JSON answers have neither validators nor a lifetime, so no
cache keeps them for another requester.
"""

from collections.abc import Sequence

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

# What a page sends besides the safelisted headers: its buyer token, a JSON body and its idempotency key.
ALLOWED_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key"]
# What a page may read besides the safelisted headers: where a new order lives, and how long to wait after a 429/503.
EXPOSED_HEADERS = ["Location", "Retry-After"]
# How long a browser may reuse a preflight's answer (Chromium caps it at 2 hours, Firefox at 24).
PREFLIGHT_MAX_AGE_SECONDS = 600


class CrossOrigin:
    def __init__(self, app: ASGIApp, *, allowed_origins: Sequence[str]):
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=allowed_origins,
            allow_methods=["GET", "POST"],
            allow_headers=ALLOWED_HEADERS,
            expose_headers=EXPOSED_HEADERS,
            max_age=PREFLIGHT_MAX_AGE_SECONDS,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, _ in scope["headers"]:
                if name == b"origin":
                    await self.cors(scope, receive, send)
                    return
        await self.app(scope, receive, send)
