"""Admin routes: product set-up, and the live overview behind the admin page (server-sent events: the products,
and the services' health)."""

import asyncio
import hashlib
import itertools
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated

import jwt
from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sse_starlette.sse import EventSourceResponse

from firstin_api.admin_console import health_public
from firstin_api.answers import STORE_FAILURES
from firstin_api.deps import AdminOnly, Health, Products, Settings
from firstin_api.products import Product
from firstin_api.schemas import (
    ErrorPublic,
    ProductConfigure,
    ProductOverviewPublic,
    ProductPublic,
    SkuPath,
    from_ms,
)
from firstin_api.static_files import STATIC_DIR
from firstin_contracts import RejectReason

log = logging.getLogger("firstin.api")
router = APIRouter()
OVERVIEW_INTERVAL_SECONDS = 0.5
HEALTH_EVERY_TICKS = 4
# EventSource cannot send headers, so the stream is opened with a ticket in its URL: short-lived, good for the
# stream alone, and not the admin token (URLs end up in logs, proxies and browser history).
STREAM_TICKET_SECONDS = 30
_TICKET_AUDIENCE = "firstin-admin-stream"


class StreamTicketPublic(BaseModel):
    ticket: str
    expires_in: int = Field(description="Seconds during which the ticket opens the stream")


def _ticket_key(admin_token: str) -> bytes:
    # A key of its own, derived from the admin token: a full-length HMAC key whatever the token's length.
    return hashlib.sha256(b"firstin admin stream ticket\0" + admin_token.encode()).digest()


def _issue_ticket(admin_token: str) -> str:
    now = int(time.time())
    claims = {"aud": _TICKET_AUDIENCE, "iat": now, "exp": now + STREAM_TICKET_SECONDS}
    return jwt.encode(claims, _ticket_key(admin_token), algorithm="HS256")


def _ticket_is_valid(ticket: str, admin_token: str) -> bool:
    try:
        jwt.decode(
            ticket,
            _ticket_key(admin_token),
            algorithms=["HS256"],
            audience=_TICKET_AUDIENCE,
            options={"require": ["exp"]},
        )
    except jwt.InvalidTokenError:
        return False
    return True


def product_public(product: Product) -> ProductPublic:
    return ProductPublic.model_validate(product, from_attributes=True)


def _overview(product: Product) -> ProductOverviewPublic:
    return ProductOverviewPublic(
        **product_public(product).model_dump(),
        decided=product.decided,
        last_position=product.last_position,
        round_started_at=from_ms(product.round_started_at),
        accepted=product.accepted,
        rejected={RejectReason(reason): count for reason, count in product.rejected.items()},
        dead_letters=product.dead_letters,
        decided_by=product.decided_by,
    )


@router.put(
    "/admin/products/{sku}",
    response_model=ProductPublic,
    dependencies=[AdminOnly],
    responses={401: {"model": ErrorPublic}},
)
async def configure_product(sku: SkuPath, body: ProductConfigure, products: Products) -> ProductPublic:
    """Create a product or reset it: either starts a new sale round, with this stock, positions from 1 and
    per-customer counts from 0. Orders of the previous round still in line are rejected with reason
    `round_closed` (their buyers are told); the previous round's orders stay listed and exportable."""
    round_ = await products.configure_product(sku, stock=body.stock, per_customer_limit=body.per_customer_limit)
    log.info("product configured", extra={"sku": sku, "stock": body.stock, "round": round_})
    product = await products.get_product(sku)
    assert product is not None
    return product_public(product)


@router.get(
    "/admin/products",
    response_model=list[ProductOverviewPublic],
    dependencies=[AdminOnly],
    responses={401: {"model": ErrorPublic}},
)
async def overview(products: Products) -> list[ProductOverviewPublic]:
    return [_overview(p) for p in await products.all_products()]


@router.post(
    "/admin/stream-tickets",
    response_model=StreamTicketPublic,
    dependencies=[AdminOnly],
    responses={401: {"model": ErrorPublic}},
)
async def stream_ticket(settings: Settings) -> StreamTicketPublic:
    """A ticket that opens GET /admin/stream for the next 30 s (the page asks with the admin token in a header)."""
    return StreamTicketPublic(ticket=_issue_ticket(settings.admin_token), expires_in=STREAM_TICKET_SECONDS)


@router.get("/admin/stream", responses={401: {"model": ErrorPublic}})
async def overview_stream(
    products: Products,
    health: Health,
    settings: Settings,
    ticket: Annotated[str, Query(description="from POST /admin/stream-tickets")],
) -> EventSourceResponse:
    """Server-sent events: `overview` (as GET /admin/products) twice a second, `health` (as GET /admin/health)
    every two seconds. While Redis is unreachable only `health` comes, saying so."""
    if not _ticket_is_valid(ticket, settings.admin_token):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "a valid stream ticket is required")

    async def events() -> AsyncIterator[dict[str, str]]:
        for tick in itertools.count():
            try:
                rows = [_overview(p).model_dump(mode="json") for p in await products.all_products()]
                yield {"event": "overview", "data": json.dumps(rows)}
            except STORE_FAILURES:
                pass  # the health event tells of it; the stream stays open for when Redis is back
            if tick % HEALTH_EVERY_TICKS == 0:
                yield {"event": "health", "data": health_public(await health.read()).model_dump_json()}
            await asyncio.sleep(OVERVIEW_INTERVAL_SECONDS)

    return EventSourceResponse(events())


@router.get("/admin", include_in_schema=False)
async def admin_page() -> FileResponse:
    """The live admin page; it asks for the admin token itself (the page holds no secret)."""
    return FileResponse(str(STATIC_DIR.joinpath("admin.html")))
