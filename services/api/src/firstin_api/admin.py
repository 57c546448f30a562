"""Admin routes: product set-up, and the live overview behind the admin page (server-sent events)."""

import asyncio
import json
import logging
import secrets
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import FileResponse
from sse_starlette.sse import EventSourceResponse

from firstin_api.deps import AdminOnly, Settings, Store
from firstin_api.schemas import ErrorPublic, ProductConfigure, ProductOverviewPublic, ProductPublic, SkuPath
from firstin_api.static_files import STATIC_DIR
from firstin_api.store import Product

log = logging.getLogger("firstin.api")
router = APIRouter()
OVERVIEW_INTERVAL_SECONDS = 0.5


def product_public(product: Product) -> ProductPublic:
    return ProductPublic.model_validate(product, from_attributes=True)


def _overview(product: Product) -> ProductOverviewPublic:
    return ProductOverviewPublic.model_validate(product, from_attributes=True)


@router.put(
    "/admin/products/{sku}",
    response_model=ProductPublic,
    dependencies=[AdminOnly],
    responses={401: {"model": ErrorPublic}},
)
async def configure_product(sku: SkuPath, body: ProductConfigure, store: Store) -> ProductPublic:
    """Create a product or reset its stock (a new round: per-customer counts start again)."""
    await store.configure_product(sku, stock=body.stock, per_customer_limit=body.per_customer_limit)
    log.info("product configured", extra={"sku": sku, "stock": body.stock})
    product = await store.get_product(sku)
    assert product is not None
    return product_public(product)


@router.get(
    "/admin/products",
    response_model=list[ProductOverviewPublic],
    dependencies=[AdminOnly],
    responses={401: {"model": ErrorPublic}},
)
async def overview(store: Store) -> list[ProductOverviewPublic]:
    return [_overview(p) for p in await store.all_products()]


@router.get("/admin/stream", responses={401: {"model": ErrorPublic}})
async def overview_stream(
    store: Store, settings: Settings, token: Annotated[str, Query(description="the admin token")]
) -> EventSourceResponse:
    """The overview twice a second as server-sent events (EventSource cannot send headers: token in the query)."""
    if not secrets.compare_digest(token.encode(), settings.admin_token.encode()):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "admin token required")

    async def events() -> AsyncIterator[dict[str, str]]:
        while True:
            products = [_overview(p).model_dump() for p in await store.all_products()]
            yield {"event": "overview", "data": json.dumps(products)}
            await asyncio.sleep(OVERVIEW_INTERVAL_SECONDS)

    return EventSourceResponse(events())


@router.get("/admin", include_in_schema=False)
async def admin_page() -> FileResponse:
    """The live admin page; it asks for the admin token itself (the page holds no secret)."""
    return FileResponse(str(STATIC_DIR.joinpath("admin.html")))
