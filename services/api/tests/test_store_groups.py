"""OrderStore's group path on a real Redis: the door's room is shared by a group, and the group is queued in
arrival order with gapless positions."""

import pytest
from redis.asyncio import Redis

from firstin_api.placing import NewOrder, SoldOut
from firstin_api.products import ProductStore
from firstin_api.store import OrderStore
from firstin_contracts import OrderRecord, ProductKeys, order_id_for
from firstin_stack import unique_sku


@pytest.fixture
def products(redis: Redis) -> ProductStore:
    return ProductStore(redis)


def _orders(sku: str, n: int, quantity: int = 1) -> list[NewOrder]:
    return [NewOrder(order_id_for(sku), sku, f"b{i}@example.com", quantity, f"s{i}", "10.0.0.1") for i in range(n)]


async def test_a_group_is_admitted_only_while_the_room_in_line_lasts(store: OrderStore, products: ProductStore) -> None:
    sku = unique_sku("group-door")
    await products.configure_product(sku, stock=3, per_customer_limit=None)
    results = await store.queue_orders(_orders(sku, 10))
    assert [type(r).__name__ for r in results] == ["OrderRecord"] * 3 + ["SoldOut"] * 7
    assert all(isinstance(r, SoldOut) for r in await store.queue_orders(_orders(sku, 2))), "the door stays shut"


async def test_quantities_use_up_the_room(store: OrderStore, products: ProductStore) -> None:
    sku = unique_sku("group-qty")
    await products.configure_product(sku, stock=5, per_customer_limit=None)
    results = await store.queue_orders(_orders(sku, 4, quantity=2))
    # 5 left: 2 (3 left), 2 (1 left), 2 (admitted: the processor rejects what the stock cannot cover), then shut
    assert [type(r).__name__ for r in results] == ["OrderRecord"] * 3 + ["SoldOut"]


async def test_a_group_joins_the_line_in_arrival_order(store: OrderStore, products: ProductStore, redis: Redis) -> None:
    sku = unique_sku("group-order")
    await products.configure_product(sku, stock=100, per_customer_limit=None)
    orders = _orders(sku, 20)
    records = await store.queue_orders(orders)
    assert all(isinstance(r, OrderRecord) for r in records)
    assert [r.position for r in records if isinstance(r, OrderRecord)] == list(range(1, 21))
    # The records in Redis, not the list: a processor of another test's stack may already be popping this line.
    stored = await redis.hmget(ProductKeys(sku).orders, [o.order_id for o in orders])
    positions = [OrderRecord.model_validate_json(raw).position for raw in stored if raw is not None]
    assert positions == list(range(1, 21)), "each order's place in line is its place in the group"
