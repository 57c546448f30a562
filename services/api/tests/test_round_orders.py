"""A round's orders read from the order-ids list on a real Redis: pages cover each order of the round once, with a
status filter too when it must read past a page's worth; cursors are the api's own; and the round's audit."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio import Redis

from firstin_api import round_orders
from firstin_api.placing import NewOrder
from firstin_api.products import ProductStore
from firstin_api.round_audit import RoundAudit
from firstin_api.round_orders import BadCursor, Cursor, RoundOrders
from firstin_api.store import OrderStore
from firstin_contracts import OrderRecord, OrderStatus, ProductKeys, RejectReason, order_id_for
from firstin_stack import unique_sku


async def _queue(store: OrderStore, sku: str, n: int) -> list[OrderRecord]:
    orders = [NewOrder(order_id_for(sku), sku, f"b{i}@example.com", 1, f"s{i}", "10.0.0.1") for i in range(n)]
    records = await store.enqueue(orders)
    assert all(isinstance(r, OrderRecord) for r in records)
    return [r for r in records if isinstance(r, OrderRecord)]


async def test_pages_cover_a_round_once_and_keep_to_it(
    store: OrderStore, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(round_orders, "SCAN_CHUNK", 4)  # a filtered page must stop reading before the round ends
    sku = unique_sku("round-pages")
    products, reader = ProductStore(redis), RoundOrders(redis)
    await products.configure_product(sku, stock=100, per_customer_limit=None)
    first = await _queue(store, sku, 11)
    assert await products.configure_product(sku, stock=5, per_customer_limit=None) == 2
    second = await _queue(store, sku, 3)
    # Mark every third order of round 1 accepted, as the processor would (the processor is not part of this test).
    for record in first[::3]:
        await redis.hset(
            ProductKeys(sku).orders,
            record.order_id,
            record.model_copy(update={"status": OrderStatus.ACCEPTED}).model_dump_json(),
        )

    async def every(number: int, limit: int, status: OrderStatus | None) -> list[str]:
        round_ = await products.round(sku, number)
        assert round_ is not None
        found, after, pages = [], 0, 0
        while True:
            page = await reader.page(sku, round_, after=after, limit=limit, status=status)
            found += [r.order_id for r in page.orders]
            pages += 1
            assert pages < 50
            if page.next is None:
                return found
            assert page.next.round == number
            after = Cursor.decode(page.next.encode()).after

    # An entry whose record is not the round's is not shown, and the listing still goes past it.
    stray = second[-1].model_copy(update={"round": 1})
    await redis.hset(ProductKeys(sku).orders, stray.order_id, stray.model_dump_json())
    for limit in (1, 2, 5, 100):
        assert await every(1, limit, None) == [r.order_id for r in first]
        assert await every(2, limit, None) == [r.order_id for r in second[:-1]]
        assert await every(1, limit, OrderStatus.ACCEPTED) == [r.order_id for r in first[::3]]
        assert await every(2, limit, OrderStatus.ACCEPTED) == []
    assert [r.position for r in second] == [1, 2, 3]


@pytest.mark.parametrize("text", ["", "x", "MTo", "MDow", "LTE6Mw", "bm90OmFu", "✓"])
def test_only_cursors_the_api_gave_are_taken(text: str) -> None:
    with pytest.raises(BadCursor):
        Cursor.decode(text)


@given(round_=st.integers(1, 2**31), after=st.integers(0, 2**40))
def test_a_cursor_comes_back_as_it_went(round_: int, after: int) -> None:
    assert Cursor.decode(Cursor(round_, after).encode()) == Cursor(round_, after)


def _record(position: int, status: OrderStatus, seq: int | None, quantity: int = 1) -> OrderRecord:
    return OrderRecord(
        order_id=f"a.{position}",
        sku="a",
        email="a@x.io",
        session_id="s",
        quantity=quantity,
        position=position,
        status=status,
        reason=RejectReason.SOLD_OUT if status is OrderStatus.REJECTED else None,
        created_at=1,
        decision_seq=seq,
    )


def test_the_audit_counts_oversell_out_of_order_and_repeated_decisions() -> None:
    clean = RoundAudit(stock_total=2)
    for position, status in enumerate([OrderStatus.ACCEPTED, OrderStatus.ACCEPTED, OrderStatus.REJECTED], start=1):
        clean.add(_record(position, status, position))
    clean.add(_record(4, OrderStatus.PENDING, None))
    assert clean.result() == {
        "orders": 4,
        "accepted": 2,
        "accepted_quantity": 2,
        "stock_total": 2,
        "rejected": {"sold_out": 1},
        "pending": 1,
        "oversell": 0,
        "fifo_violations": 0,
        "duplicate_decisions": 0,
    }
    bad = RoundAudit(stock_total=2)
    for position, seq in enumerate([1, 3, 2, 2], start=1):
        bad.add(_record(position, OrderStatus.ACCEPTED, seq))
    assert (bad.oversell, bad.fifo_violations, bad.duplicate_decisions) == (2, 1, 1)
