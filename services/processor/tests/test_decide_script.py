"""decide.lua against its Python twin (rules.py), on a real redis-server: same decisions for any line,
batch size and poison messages mixed in; records, stock and outcomes written together."""

import asyncio
import json
import uuid

import redis
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firstin_contracts import OUTCOMES_CHANNEL, OrderRecord, OrdersDecided, OrderStatus, ProductKeys
from firstin_processor.rules import decide_line
from firstin_processor.store import DecisionStore
from firstin_stack import RedisServer

POISON = [b"not json", b'{"data": "{broken"}', b'{"order_id": 1}', b"x" * 5000, b"[]"]


def queue_line(client: redis.Redis, sku: str, stock: int, limit: int | None, line: list[tuple[str, int]]) -> list[str]:
    """Set up a product and queue orders the way the api does: a pending record beside each message."""
    keys = ProductKeys(sku)
    client.hset(
        keys.product,
        mapping={
            "stock_total": stock,
            "stock_left": stock,
            "per_customer_limit": limit or 0,
            "sold_out": int(stock == 0),
            "decided": 0,
            "pending_qty": sum(q for _, q in line),
        },
    )
    order_ids = []
    for position, (email, quantity) in enumerate(line, start=1):
        order_id = f"{sku}.{uuid.uuid4().hex}"
        record = {
            "order_id": order_id,
            "sku": sku,
            "email": email,
            "session_id": f"session-{email}",
            "quantity": quantity,
            "position": position,
            "status": "pending",
            "created_at": 1,
        }
        client.hset(keys.orders, order_id, json.dumps(record))
        body = json.dumps({"schema_version": 1, "order_id": order_id, "sku": sku, "email": email, "quantity": quantity})
        client.rpush(keys.queue, json.dumps({"data": body, "headers": {"content-type": "application/json"}}))
        order_ids.append(order_id)
    return order_ids


async def drain(url: str, sku: str, batch_size: int) -> tuple[int, list[OrdersDecided]]:
    client = aioredis.Redis.from_url(url)
    pubsub = client.pubsub()
    await pubsub.subscribe(OUTCOMES_CHANNEL)
    assert (await pubsub.get_message(timeout=2))["type"] == "subscribe"  # subscribed before anything is decided
    store = DecisionStore(client, batch_size=batch_size, max_message_bytes=4096, dead_letters_kept=100)
    dead = 0
    while True:
        summary = await store.decide_batch(sku)
        dead += sum(summary.dead_lettered.values())
        if summary.remaining == 0:
            break
    published = []
    while message := await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2):
        batch = OrdersDecided.model_validate_json(message["data"])
        if batch.sku == sku:
            published.append(batch)
    await pubsub.aclose()
    await client.aclose()
    return dead, published


emails = st.sampled_from(["a@x.io", "b@x.io", "c@x.io"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    stock=st.integers(0, 20),
    limit=st.one_of(st.none(), st.integers(1, 6)),
    line=st.lists(st.tuples(emails, st.integers(1, 4)), max_size=40),
    batch_size=st.integers(1, 16),
    poison_at=st.lists(st.tuples(st.integers(0, 40), st.sampled_from(POISON)), max_size=4),
)
def test_script_decides_like_the_rule(
    firstin_redis: RedisServer,
    stock: int,
    limit: int | None,
    line: list[tuple[str, int]],
    batch_size: int,
    poison_at: list[tuple[int, bytes]],
) -> None:
    client = redis.Redis.from_url(firstin_redis.url)
    sku = f"prop-{uuid.uuid4().hex[:12]}"
    keys = ProductKeys(sku)
    order_ids = queue_line(client, sku, stock, limit, line)
    for index, poison in poison_at:  # malformed messages anywhere in the line change no decision
        client.linsert(keys.queue, "BEFORE", client.lindex(keys.queue, index) or b"", poison) if client.llen(
            keys.queue
        ) > index else client.rpush(keys.queue, poison)

    dead, published = asyncio.run(drain(firstin_redis.url, sku, batch_size))

    expected = decide_line(stock, limit, line)
    records = [OrderRecord.model_validate_json(client.hget(keys.orders, i) or b"") for i in order_ids]
    assert [(r.status, r.reason) for r in records] == [(d.status, d.reason) for d in expected]
    assert [r.decision_seq for r in records] == list(range(1, len(line) + 1))  # decided in position order
    accepted = sum(q for (_, q), d in zip(line, expected, strict=True) if d.status is OrderStatus.ACCEPTED)
    product = client.hgetall(keys.product)
    assert int(product[b"stock_left"]) == stock - accepted >= 0
    assert int(product[b"pending_qty"]) == 0
    assert product[b"sold_out"] == (b"1" if stock - accepted == 0 else b"0")
    assert dead == len(poison_at) == client.llen(keys.dead_letters)
    outcomes = [d for batch in published for d in batch.decisions]
    assert [(d.order_id, d.status) for d in outcomes] == [(r.order_id, r.status) for r in records]
    client.close()


def test_an_order_queued_twice_is_decided_once(firstin_redis: RedisServer) -> None:
    client = redis.Redis.from_url(firstin_redis.url)
    sku = f"dup-{uuid.uuid4().hex[:12]}"
    keys = ProductKeys(sku)
    (order_id,) = queue_line(client, sku, 5, None, [("a@x.io", 1)])
    client.rpush(keys.queue, client.lindex(keys.queue, 0) or b"")

    dead, published = asyncio.run(drain(firstin_redis.url, sku, 10))

    assert dead == 1
    assert [d.order_id for b in published for d in b.decisions] == [order_id]
    letter = json.loads(client.lindex(keys.dead_letters, 0) or b"")
    assert letter["reason"] == "already_decided"
    assert client.hget(keys.product, "stock_left") == b"4"
    client.close()
