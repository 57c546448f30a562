"""HTTP routes: decode the request, call the store, shape the answer."""

import logging
import time
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse

from firstin_api import metrics
from firstin_api.admin import product_public
from firstin_api.deps import Settings, Store
from firstin_api.schemas import (
    BuyCreate,
    DoorRejectionPublic,
    ErrorPublic,
    OrderAcceptedPublic,
    OrderCreate,
    OrderPublic,
    ProductPublic,
    SessionCreate,
    SessionPublic,
    SkuPath,
)
from firstin_api.settings import ApiSettings
from firstin_api.store import IdempotencyKeyReused, RateLimited, SoldOut, UnknownProduct
from firstin_contracts import (
    DEFAULT_SKU,
    InvalidToken,
    RejectReason,
    issue_buyer_token,
    new_session_id,
    verify_buyer_token,
)

log = logging.getLogger("firstin.api")
router = APIRouter()

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)]
BuyerToken = Annotated[
    str | None,
    Header(alias="Authorization", description="Bearer <token> of an earlier 202 or POST /sessions: keeps the session"),
]

_ORDER_RESPONSES: dict[int | str, dict[str, object]] = {
    202: {"model": OrderAcceptedPublic, "description": "Queued; the outcome follows on the buyer's socket"},
    404: {"model": ErrorPublic, "description": "Unknown sku"},
    409: {"model": DoorRejectionPublic, "description": "Sold out: nothing was queued"},
    413: {"model": ErrorPublic, "description": "Body too large"},
    429: {"model": ErrorPublic, "description": "Too many requests from this IP or for this email"},
    503: {"model": ErrorPublic, "description": "Redis unreachable; retry after Retry-After seconds"},
}


def _session_of(authorization: str | None, email: str, settings: ApiSettings) -> str:
    """The caller's session if it presents a valid token for this email, else a new one."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() == "bearer" and token:
        try:
            session = verify_buyer_token(token, secret=settings.token_secret)
        except InvalidToken:
            return new_session_id()
        if session.email == email:
            return session.session_id
    return new_session_id()


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _rate_limited(exc: RateLimited) -> HTTPException:
    metrics.ORDERS_REJECTED_AT_DOOR.labels("rate_limited").inc()
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS, "too many requests", headers={"Retry-After": str(exc.retry_after)}
    )


async def _place(
    order: OrderCreate,
    idempotency_key: str | None,
    authorization: str | None,
    request: Request,
    store: Store,
    settings: Settings,
    response: Response,
) -> OrderAcceptedPublic | JSONResponse:
    started = time.perf_counter()
    metrics.ORDERS_RECEIVED.labels(order.sku).inc()
    try:
        placed = await store.place_order(
            sku=order.sku,
            email=order.email,
            quantity=order.quantity,
            session_id=_session_of(authorization, order.email, settings),
            client_ip=_client_ip(request),
            idempotency_key=idempotency_key,
        )
    except RateLimited as exc:
        raise _rate_limited(exc) from None
    except UnknownProduct:
        metrics.ORDERS_REJECTED_AT_DOOR.labels("unknown_sku").inc()
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown sku {order.sku!r}") from None
    except SoldOut:
        metrics.ORDERS_REJECTED_AT_DOOR.labels(RejectReason.SOLD_OUT).inc()
        return JSONResponse(DoorRejectionPublic(reason=RejectReason.SOLD_OUT).model_dump(), status_code=409)
    except IdempotencyKeyReused:
        metrics.ORDERS_REJECTED_AT_DOOR.labels("idempotency_key_reused").inc()
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [
                {
                    "loc": ["header", "Idempotency-Key"],
                    "msg": "key already used with a different body",
                    "type": "idempotency_key_reused",
                }
            ],
        ) from None
    record = placed.record
    if not placed.replayed:
        metrics.ORDERS_QUEUED.labels(order.sku).inc()
        log.info("order queued", extra={"order_id": record.order_id, "sku": record.sku, "position": record.position})
    metrics.PLACE_ORDER_DURATION.observe(time.perf_counter() - started)
    response.status_code = status.HTTP_202_ACCEPTED
    response.headers["Location"] = f"/orders/{record.order_id}"
    return OrderAcceptedPublic(
        order_id=record.order_id,
        status=record.status,
        sku=record.sku,
        quantity=record.quantity,
        position=record.position,
        token=issue_buyer_token(
            record.email,
            session_id=record.session_id,
            secret=settings.token_secret,
            ttl_seconds=settings.token_ttl_seconds,
        ),
    )


@router.post("/orders", status_code=202, response_model=OrderAcceptedPublic, responses=_ORDER_RESPONSES)
async def place_order(
    order: OrderCreate,
    request: Request,
    store: Store,
    settings: Settings,
    response: Response,
    idempotency_key: IdempotencyKey = None,
    authorization: BuyerToken = None,
) -> OrderAcceptedPublic | JSONResponse:
    """Queue an order for a decision, or refuse it at once when the product is sold out."""
    return await _place(order, idempotency_key, authorization, request, store, settings, response)


@router.post("/buy", status_code=202, response_model=OrderAcceptedPublic, responses=_ORDER_RESPONSES)
async def buy(
    body: BuyCreate,
    request: Request,
    store: Store,
    settings: Settings,
    response: Response,
    idempotency_key: IdempotencyKey = None,
    authorization: BuyerToken = None,
) -> OrderAcceptedPublic | JSONResponse:
    """The tutorial's endpoint: one item of the default product."""
    order = OrderCreate(email=body.email, sku=DEFAULT_SKU, quantity=1)
    return await _place(order, idempotency_key, authorization, request, store, settings, response)


@router.post(
    "/sessions",
    status_code=201,
    response_model=SessionPublic,
    responses={429: {"model": ErrorPublic, "description": "Too many requests from this IP or for this email"}},
)
async def open_session(body: SessionCreate, request: Request, store: Store, settings: Settings) -> SessionPublic:
    """A token for a new buyer session, so a page can connect to the notifier before it orders.

    Send it with each order (Authorization: Bearer) to hear those orders' outcomes on that socket. A session
    sees only the orders placed in it, so asking for a token with someone else's email shows nothing of theirs.
    """
    try:
        await store.pass_door(client_ip=_client_ip(request), email=body.email, sku=None)
    except RateLimited as exc:
        raise _rate_limited(exc) from None
    token = issue_buyer_token(body.email, secret=settings.token_secret, ttl_seconds=settings.token_ttl_seconds)
    return SessionPublic(token=token, expires_in=settings.token_ttl_seconds)


@router.get("/orders/{order_id}", response_model=OrderPublic, responses={404: {"model": ErrorPublic}})
async def get_order(order_id: str, store: Store) -> OrderPublic:
    record = await store.get_order(order_id)
    if record is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "unknown order")
    return OrderPublic.of(record)


@router.get("/products/{sku}", response_model=ProductPublic, responses={404: {"model": ErrorPublic}})
async def get_product(sku: SkuPath, store: Store) -> ProductPublic:
    product = await store.get_product(sku)
    if product is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown sku {sku!r}")
    return product_public(product)
