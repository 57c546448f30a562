"""The lean path for POST /orders and /buy: the same `ordering.place`, without FastAPI's routing, dependency
solving, exception layers and response models.

In a sale these two routes are almost all the traffic, and FastAPI's machinery cost more CPU than the order
itself (docs/benchmarks.md: ~0.6 ms per sold-out 409, ~1.3 ms per queued order, on 2 cores). This ASGI
middleware validates the body with the very pydantic models the routes declare and calls the same function the
routes call, so the answers are the same; anything it is not sure of (an invalid body or header) goes down the
FastAPI path, which produces the standard 422. A product whose door is closed gets its 409 from a per-process
cache refreshed from Redis at most every `ttl` seconds (a door that reopens is seen that late), without a Redis
round trip, unless the request carries an Idempotency-Key (a replay must return its order).
"""

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pydantic import ValidationError
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from firstin_api import metrics
from firstin_api.buyer_tokens import BuyerTokens
from firstin_api.ordering import REDIS_UNAVAILABLE, SOLD_OUT, Answer, place
from firstin_api.schemas import BuyCreate, OrderCreate
from firstin_api.store import OrderStore
from firstin_contracts import DEFAULT_SKU, RejectReason

_MODELS: dict[str, type[OrderCreate] | type[BuyCreate]] = {"/orders": OrderCreate, "/buy": BuyCreate}
MAX_IDEMPOTENCY_KEY_LENGTH = 200  # as the route's header declares

DoorCheck = Callable[[str], Awaitable[bool]]


class DoorCache:
    """Whether a product's door is closed, as last read from Redis, for at most `ttl` seconds. The requests that
    find it stale at the same moment share one read (in a stampede, thousands arrive in the same instant). It
    keeps the `max_products` most recently read products: requests for made-up skus cannot grow it."""

    def __init__(self, is_closed: DoorCheck, *, ttl: float, max_products: int = 10_000):
        self._is_closed = is_closed
        self._ttl = ttl
        self._max_products = max_products
        self._known: OrderedDict[str, tuple[bool, float]] = OrderedDict()
        self._reading: dict[str, asyncio.Future[bool]] = {}

    async def closed(self, sku: str) -> bool:
        known = self._known.get(sku)
        if known is not None and time.monotonic() - known[1] <= self._ttl:
            return known[0]
        reading = self._reading.get(sku)
        if reading is None:
            reading = asyncio.ensure_future(self._read(sku))
            self._reading[sku] = reading
        return await asyncio.shield(reading)

    async def _read(self, sku: str) -> bool:
        try:
            now = time.monotonic()
            closed = await self._is_closed(sku)
            self._known[sku] = (closed, now)
            self._known.move_to_end(sku)
            while len(self._known) > self._max_products:
                self._known.popitem(last=False)
            return closed
        finally:
            del self._reading[sku]


@dataclass(frozen=True, slots=True)
class OrderingContext:
    store: OrderStore
    tokens: BuyerTokens
    door: DoorCache


class OrderFastPath:
    def __init__(self, app: ASGIApp, *, context: Callable[[], OrderingContext | None]):
        self.app = app
        self._context = context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        model = _MODELS.get(scope.get("path", "")) if scope["type"] == "http" else None
        context = self._context()
        if model is None or scope["method"] != "POST" or context is None:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        idempotency_key = _text(headers.get(b"idempotency-key"))
        body, replay = await _read_body(receive)
        try:
            request = model.model_validate_json(body)
        except ValidationError:
            request = None
        if request is None or (
            idempotency_key is not None and not 0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY_LENGTH
        ):
            await self.app(scope, replay, send)  # FastAPI says precisely what is wrong (422)
            return
        order = request if isinstance(request, OrderCreate) else OrderCreate(email=request.email, sku=DEFAULT_SKU)
        try:
            answer = await self._answer(order, context, scope, headers, idempotency_key)
        except (RedisError, OSError):
            metrics.REDIS_ERRORS.inc()
            answer = REDIS_UNAVAILABLE
        await _send(send, answer)

    @staticmethod
    async def _answer(
        order: OrderCreate, context: OrderingContext, scope: Scope, headers: dict[bytes, bytes], key: str | None
    ) -> Answer:
        if key is None and await context.door.closed(order.sku):
            metrics.ORDERS_REJECTED_AT_DOOR.labels(RejectReason.SOLD_OUT).inc()
            return SOLD_OUT
        client = scope.get("client")
        return await place(
            order,
            store=context.store,
            tokens=context.tokens,
            idempotency_key=key,
            authorization=_text(headers.get(b"authorization")),
            client_ip=client[0] if client else "unknown",
        )


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


async def _send(send: Send, answer: Answer) -> None:
    body = json.dumps(answer.body, separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in answer.headers.items()]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


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
