"""POST /orders and POST /buy: one handler, a plain ASGI app in the app's router.

In a sale these two paths are almost all the traffic, and FastAPI's request machinery (dependency solving,
exception layers, response models) cost more CPU than the order itself (docs/benchmarks.md: ~0.6 ms per sold-out
409, ~1.3 ms per queued order, on 2 cores). So the handler reads the body with the very pydantic models a FastAPI
route would declare, places the order (placing.py) and writes the answer itself; FastAPI only describes the two
paths in the OpenAPI document. A body that fails the fast check is checked again step for step as FastAPI would
(validation.check_like_fastapi), so a bad request gets FastAPI's answer.
"""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Header
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from firstin_api.answers import STORE_FAILURES, Answer, order_answer, store_unavailable
from firstin_api.buyer_tokens import BuyerTokens
from firstin_api.placing import Door, Line, Order, place
from firstin_api.schemas import BuyCreate, DoorRejectionPublic, ErrorPublic, OrderAcceptedPublic, OrderCreate
from firstin_api.validation import Rejected, check_like_fastapi

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)]
BuyerToken = Annotated[
    str | None,
    Header(alias="Authorization", description="Bearer <token> of an earlier 202 or POST /sessions: keeps the session"),
]
_IDEMPOTENCY_KEY: TypeAdapter[str | None] = TypeAdapter(IdempotencyKey)
_AUTHORIZATION: TypeAdapter[str | None] = TypeAdapter(BuyerToken)

RequestBody = TypeVar("RequestBody", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Ordering:
    """What placing an order works with, made when the app starts."""

    line: Line
    door: Door
    tokens: BuyerTokens


class OrderEndpoint(Generic[RequestBody]):
    """The handler of both paths, which differ only in the body they read (`body`, made an `Order` by `order_of`)."""

    def __init__(
        self, body: type[RequestBody], order_of: Callable[[RequestBody], Order], ordering: Callable[[], Ordering]
    ):
        self._body = body
        self._body_type = TypeAdapter(body)
        self._order_of = order_of
        self._ordering = ordering

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_body(receive)
        if body is None:
            return  # the client left before sending its body: nobody to answer
        headers = dict(scope["headers"])
        key = _text(headers.get(b"idempotency-key"))
        authorization = _text(headers.get(b"authorization"))
        try:
            request = self._body.model_validate_json(body)
            if key is not None:
                _IDEMPOTENCY_KEY.validate_python(key)
        except ValidationError:
            try:
                request = self._check_like_fastapi(scope, body, key, authorization)
            except Rejected as rejected:
                await _send(send, Answer(rejected.status, rejected.body))
                return
        order = self._order_of(request)
        started = time.perf_counter()
        ordering = self._ordering()
        client = scope.get("client")
        try:
            outcome = await place(
                order,
                line=ordering.line,
                door=ordering.door,
                tokens=ordering.tokens,
                idempotency_key=key,
                authorization=authorization,
                client_ip=client[0] if client else "unknown",
            )
        except STORE_FAILURES as exc:
            answer = store_unavailable(scope["path"], exc)
        else:
            answer = order_answer(order, outcome, started)
        await _send(send, answer)

    def _check_like_fastapi(self, scope: Scope, body: bytes, key: str | None, authorization: str | None) -> RequestBody:
        content_type = next((_text(value) for name, value in scope["headers"] if name == b"content-type"), None)
        headers = [("Idempotency-Key", _IDEMPOTENCY_KEY, key), ("Authorization", _AUTHORIZATION, authorization)]
        return check_like_fastapi(self._body_type, body, content_type, headers)


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body (BodySizeLimit, ahead of the app, keeps it small), or None if the client left."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send(send: Send, answer: Answer) -> None:
    # Encoded as starlette's JSONResponse encodes, so the answers read alike whichever handler wrote them.
    body = json.dumps(answer.body, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(name.lower().encode(), value.encode()) for name, value in answer.headers.items()]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


_ORDER_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"model": OrderAcceptedPublic, "description": "Queued; the outcome follows on the buyer's socket"},
    404: {"model": ErrorPublic, "description": "Unknown sku"},
    409: {"model": DoorRejectionPublic, "description": "Sold out: nothing was queued"},
    413: {"model": ErrorPublic, "description": "Body too large"},
    429: {"model": ErrorPublic, "description": "Too many requests from this IP or for this email"},
    503: {"model": ErrorPublic, "description": "Redis unreachable; retry after Retry-After seconds"},
}


# What FastAPI documents of each path: its body and headers (the parameters), summary and description (the
# name and docstring). The handler is OrderEndpoint; these functions are never called.
async def place_order(
    order: OrderCreate, idempotency_key: IdempotencyKey = None, authorization: BuyerToken = None
) -> None:
    """Queue an order for a decision, or refuse it at once when the product is sold out."""


async def buy(body: BuyCreate, idempotency_key: IdempotencyKey = None, authorization: BuyerToken = None) -> None:
    """The tutorial's endpoint: one item of the default product."""


class OrderOperation(APIRoute):
    """A path operation that FastAPI describes from `described`'s signature and docstring, served by `app`."""

    def __init__(self, path: str, described: Callable[..., Any], *, app: ASGIApp):
        super().__init__(
            path,
            described,
            methods=["POST"],
            status_code=202,
            response_model=OrderAcceptedPublic,
            responses=_ORDER_RESPONSES,
        )
        self.app = app


def order_operations(ordering: Callable[[], Ordering]) -> list[OrderOperation]:
    orders = OrderEndpoint(OrderCreate, lambda body: Order(body.email, body.sku, body.quantity), ordering)
    buys = OrderEndpoint(BuyCreate, lambda body: Order(body.email), ordering)
    return [OrderOperation("/orders", place_order, app=orders), OrderOperation("/buy", buy, app=buys)]


class OrderRoutes:
    """POST /orders and /buy straight to their handler, the same object the router holds for the OpenAPI
    document, ahead of Starlette's exception middleware and router: those build a Request and match routes for
    every order, which cost the pipeline about a tenth of its orders/s (docs/benchmarks.md). The handler answers
    its own errors; anything unexpected still reaches the server-error middleware (500)."""

    def __init__(self, app: ASGIApp, *, operations: list[OrderOperation]):
        self.app = app
        self.handlers = {operation.path: operation.app for operation in operations}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            handler = self.handlers.get(scope["path"])
            if handler is not None:
                await handler(scope, receive, send)
                return
        await self.app(scope, receive, send)
