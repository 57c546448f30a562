"""HTTP routes: decode the request, call the store, shape the answer."""

import logging
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request, status
from fastapi.responses import JSONResponse

from firstin_api.admin import product_public
from firstin_api.deps import Settings, Store
from firstin_api.ordering import Answer, place, rate_limited
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
from firstin_api.store import RateLimited
from firstin_contracts import (
    DEFAULT_SKU,
    issue_buyer_token,
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


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _send(answer: Answer) -> JSONResponse:
    return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)


async def _place(
    order: OrderCreate,
    idempotency_key: str | None,
    authorization: str | None,
    request: Request,
    store: Store,
    settings: Settings,
) -> JSONResponse:
    answer = await place(
        order,
        store=store,
        tokens=request.app.state.tokens,
        idempotency_key=idempotency_key,
        authorization=authorization,
        client_ip=_client_ip(request),
    )
    return _send(answer)


@router.post("/orders", status_code=202, response_model=OrderAcceptedPublic, responses=_ORDER_RESPONSES)
async def place_order(
    order: OrderCreate,
    request: Request,
    store: Store,
    settings: Settings,
    idempotency_key: IdempotencyKey = None,
    authorization: BuyerToken = None,
) -> JSONResponse:
    """Queue an order for a decision, or refuse it at once when the product is sold out."""
    return await _place(order, idempotency_key, authorization, request, store, settings)


@router.post("/buy", status_code=202, response_model=OrderAcceptedPublic, responses=_ORDER_RESPONSES)
async def buy(
    body: BuyCreate,
    request: Request,
    store: Store,
    settings: Settings,
    idempotency_key: IdempotencyKey = None,
    authorization: BuyerToken = None,
) -> JSONResponse:
    """The tutorial's endpoint: one item of the default product."""
    order = OrderCreate(email=body.email, sku=DEFAULT_SKU, quantity=1)
    return await _place(order, idempotency_key, authorization, request, store, settings)


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
        limited = rate_limited(exc)
        raise HTTPException(limited.status, limited.body["detail"], headers=limited.headers) from None
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
