"""The sold-out fast path: `409 sold_out` for POST /orders and /buy without FastAPI's routing and without a
Redis round trip per request.

In a stampede almost every request meets a closed door, and the full FastAPI path (routing, dependency
injection, response models) costs several times what the answer is worth; the tutorial's door served ~3,100
req/s. This ASGI middleware validates the body with the same pydantic model, and answers from a per-process
cache of which products have their door closed, refreshed from Redis at most every `ttl` seconds per product.
Anything else (an open door, an invalid body, an Idempotency-Key replay, another route) goes down the normal
path untouched, so the answers are the same as without it; a door that reopens (restock, rejections) is seen
at most `ttl` seconds late.
"""

import time
from collections.abc import Awaitable, Callable

from pydantic import ValidationError
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from firstin_api import metrics
from firstin_api.schemas import BuyCreate, OrderCreate
from firstin_contracts import DEFAULT_SKU, RejectReason

SOLD_OUT_BODY = b'{"status":"rejected","reason":"sold_out"}'
_HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(SOLD_OUT_BODY)).encode())]
_PATHS: dict[str, type[OrderCreate] | type[BuyCreate]] = {"/orders": OrderCreate, "/buy": BuyCreate}

DoorCheck = Callable[[str], Awaitable[bool]]


class DoorCache:
    """Whether a product's door is closed, as last read from Redis, for at most `ttl` seconds."""

    def __init__(self, is_closed: DoorCheck, *, ttl: float):
        self._is_closed = is_closed
        self._ttl = ttl
        self._known: dict[str, tuple[bool, float]] = {}

    async def closed(self, sku: str) -> bool:
        now = time.monotonic()
        known = self._known.get(sku)
        if known is None or now - known[1] > self._ttl:
            known = (await self._is_closed(sku), now)
            self._known[sku] = known
        return known[0]


class SoldOutFastPath:
    def __init__(self, app: ASGIApp, *, door: Callable[[], DoorCache | None]):
        self.app = app
        self._door = door

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        model = _PATHS.get(scope.get("path", "")) if scope["type"] == "http" else None
        door = self._door()
        if model is None or scope["method"] != "POST" or door is None or _has_idempotency_key(scope):
            await self.app(scope, receive, send)
            return
        body, replay = await _read_body(receive)
        try:
            order = model.model_validate_json(body)
            sku = order.sku if isinstance(order, OrderCreate) else DEFAULT_SKU
            closed = await door.closed(sku)
        except (ValidationError, RedisError, OSError):
            closed = False  # the normal path gives the precise answer (422, 503, ...)
        if not closed:
            await self.app(scope, replay, send)
            return
        metrics.ORDERS_REJECTED_AT_DOOR.labels(RejectReason.SOLD_OUT).inc()
        await send({"type": "http.response.start", "status": 409, "headers": _HEADERS})
        await send({"type": "http.response.body", "body": SOLD_OUT_BODY})


def _has_idempotency_key(scope: Scope) -> bool:
    return any(name == b"idempotency-key" for name, _ in scope["headers"])


async def _read_body(receive: Receive) -> tuple[bytes, Receive]:
    """The whole body, and a `receive` that hands it to the next app as if unread."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay
