"""HTTP routes besides the order paths (order_endpoint.py): decode the request, call the store, shape the answer."""

from fastapi import APIRouter, HTTPException, Request, status

from firstin_api.admin import product_public
from firstin_api.answers import limit_reached
from firstin_api.deps import Products, Settings, Store
from firstin_api.schemas import (
    ErrorPublic,
    OrderPublic,
    ProductPublic,
    SessionCreate,
    SessionPublic,
    SkuPath,
)
from firstin_contracts import issue_buyer_token

router = APIRouter()


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


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
    if limited := await store.count_request(client_ip=_client_ip(request), email=body.email):
        answer = limit_reached(limited)
        raise HTTPException(answer.status, answer.body["detail"], headers=answer.headers)
    token = issue_buyer_token(body.email, secret=settings.token_secret, ttl_seconds=settings.token_ttl_seconds)
    return SessionPublic(token=token, expires_in=settings.token_ttl_seconds)


@router.get("/orders/{order_id}", response_model=OrderPublic, responses={404: {"model": ErrorPublic}})
async def get_order(order_id: str, store: Store) -> OrderPublic:
    record = await store.get_order(order_id)
    if record is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "unknown order")
    return OrderPublic.of(record)


@router.get("/products/{sku}", response_model=ProductPublic, responses={404: {"model": ErrorPublic}})
async def get_product(sku: SkuPath, products: Products) -> ProductPublic:
    product = await products.get_product(sku)
    if product is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown sku {sku!r}")
    return product_public(product)
