"""Admin routes of a product's sale rounds: the rounds, a round's orders page by page, and a round's export
(JSONL: its orders in position order, then the round's audit)."""

import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse

from firstin_api.deps import AdminOnly, Products, RoundOrdersOf
from firstin_api.products import Round
from firstin_api.round_audit import RoundAudit
from firstin_api.round_orders import BadCursor, Cursor
from firstin_api.schemas import AdminOrderPublic, ErrorPublic, OrdersPagePublic, RoundPublic, SkuPath, from_ms
from firstin_contracts import OrderStatus, RejectReason

router = APIRouter(dependencies=[AdminOnly], responses={401: {"model": ErrorPublic}, 404: {"model": ErrorPublic}})
RoundNumber = Annotated[int, Path(ge=1, le=2**31)]


def round_public(round_: Round) -> RoundPublic:
    return RoundPublic(
        round=round_.round,
        stock_total=round_.stock_total,
        stock_left=round_.stock_left,
        per_customer_limit=round_.per_customer_limit,
        orders=round_.orders,
        decided=round_.decided,
        pending=round_.pending,
        accepted=round_.accepted,
        rejected={RejectReason(reason): count for reason, count in round_.rejected.items()},
        started_at=from_ms(round_.started_at),
        closed_at=from_ms(round_.closed_at),
    )


def _bad_cursor(why: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("query", "cursor"), "msg": why, "type": "value_error"}])


async def _round(products: Products, sku: str, number: int | None) -> Round:
    found = await products.round(sku, number)
    if found is None:
        what = f"unknown sku {sku!r}" if number is None else f"no round {number} of {sku!r}"
        raise HTTPException(status.HTTP_404_NOT_FOUND, what)
    return found


@router.get("/admin/products/{sku}/rounds", response_model=list[RoundPublic])
async def list_rounds(sku: SkuPath, products: Products) -> list[RoundPublic]:
    """Every sale round of the product, oldest first; the last one is the current round."""
    rounds = await products.rounds(sku)
    if not rounds:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown sku {sku!r}")
    return [round_public(r) for r in rounds]


@router.get("/admin/products/{sku}/orders", response_model=OrdersPagePublic)
async def list_orders(
    sku: SkuPath,
    products: Products,
    orders: RoundOrdersOf,
    number: Annotated[int | None, Query(alias="round", ge=1, le=2**31, description="default: the current")] = None,
    status_: Annotated[OrderStatus | None, Query(alias="status", description="accepted: the winners")] = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> OrdersPagePublic:
    """A round's orders in position order, a page at a time. With `status`, a page may hold fewer than `limit`
    orders (even none) and still have a `next_cursor`: follow it until it is null."""
    after = 0
    if cursor is not None:
        try:
            decoded = Cursor.decode(cursor)
        except BadCursor as exc:
            raise _bad_cursor(str(exc)) from exc
        if number is not None and number != decoded.round:
            raise _bad_cursor("the cursor is of another round")
        number, after = decoded.round, decoded.after
    round_ = await _round(products, sku, number)
    page = await orders.page(sku, round_, after=after, limit=limit, status=status_)
    return OrdersPagePublic(
        sku=sku,
        round=round_.round,
        orders=[AdminOrderPublic.of(r) for r in page.orders],
        next_cursor=page.next.encode() if page.next else None,
    )


@router.get(
    "/admin/products/{sku}/rounds/{round}/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}, "description": "JSON lines"}},
)
async def export_round(
    sku: SkuPath, round: RoundNumber, products: Products, orders: RoundOrdersOf
) -> StreamingResponse:
    """The round's orders as JSON lines in position order (each as in GET .../orders), then one line
    {"sku", "round", "audit": {...}}: the round's counts, oversell and FIFO violations computed from the records."""
    round_ = await _round(products, sku, round)

    async def lines() -> AsyncIterator[bytes]:
        audit = RoundAudit(stock_total=round_.stock_total)
        async for chunk in orders.all(sku, round_):
            for record in chunk:
                audit.add(record)
            yield b"".join(AdminOrderPublic.of(r).model_dump_json().encode() + b"\n" for r in chunk)
        yield json.dumps({"sku": sku, "round": round_.round, "audit": audit.result()}).encode() + b"\n"

    filename = f"{sku}-round-{round_.round}.jsonl"
    return StreamingResponse(
        lines(),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
