"""decide.lua against its Python twin (rules.py), on a real redis-server: same decisions for any line, with
orders of closed sale rounds before the current round's, any batch size and poison messages mixed in; records,
stock, counts and outcomes written together."""

import asyncio
import json
import uuid

import redis
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firstin_contracts import OUTCOMES_CHANNEL, OrderRecord, OrdersDecided, OrderStatus, ProductKeys
from firstin_processor.rules import decide_rounds
from firstin_processor.store import DecisionStore
from firstin_stack import RedisServer

POISON = [b"not json", b'{"data": "{broken"}', b'{"order_id": 1}', b"x" * 5000, b"[]"]


def queue_line(
    client: redis.Redis,
    sku: str,
    stock: int,
    limit: int | None,
    line: list[tuple[str, int]] | list[tuple[str, int, int]],
    *,
    round: int = 1,
    closed_decided: dict[int, int] | None = None,
) -> list[str]:
    """Set up a product in sale round `round` and queue orders the way the api does: a pending record beside each
    message. An order is (email, quantity) or (email, quantity, the round it joined); positions count from 1 in
    each round. `closed_decided`: how many decisions each closed round has had (the rounds hash)."""
    keys = ProductKeys(sku)
    orders = [(o[0], o[1], o[2] if len(o) == 3 else round) for o in line]
    client.hset(
        keys.product,
        mapping={
            "round": round,
            "stock_total": stock,
            "stock_left": stock,
            "per_customer_limit": limit or 0,
            "sold_out": int(stock == 0),
            "decided": 0,
            "pending_qty": sum(q for _, q, joined in orders if joined == round),
        },
    )
    for closed, decided in (closed_decided or {}).items():
        client.hset(keys.rounds, f"{closed}:decided", decided)
    order_ids = []
    positions: dict[int, int] = {}
    for email, quantity, joined in orders:
        positions[joined] = position = positions.get(joined, 0) + 1
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
            "round": joined,
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


@st.composite
def lines_of_rounds(draw: st.DrawFn) -> tuple[int, list[tuple[str, int, int]]]:
    """The product's current round, and a line in which orders of closed rounds (a reset came while they waited)
    stand before the current round's, in round order, as they do in a real line."""
    current = draw(st.integers(1, 3))
    line = draw(st.lists(st.tuples(emails, st.integers(1, 4), st.integers(1, current)), max_size=40))
    return current, sorted(line, key=lambda order: order[2])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    stock=st.integers(0, 20),
    limit=st.one_of(st.none(), st.integers(1, 6)),
    rounds=lines_of_rounds(),
    closed_decided=st.lists(st.integers(0, 5), min_size=3, max_size=3),
    batch_size=st.integers(1, 16),
    poison_at=st.lists(st.tuples(st.integers(0, 40), st.sampled_from(POISON)), max_size=4),
)
def test_script_decides_like_the_rule(
    firstin_redis: RedisServer,
    stock: int,
    limit: int | None,
    rounds: tuple[int, list[tuple[str, int, int]]],
    closed_decided: list[int],
    batch_size: int,
    poison_at: list[tuple[int, bytes]],
) -> None:
    current, line = rounds
    client = redis.Redis.from_url(firstin_redis.url)
    sku = f"prop-{uuid.uuid4().hex[:12]}"
    keys = ProductKeys(sku)
    earlier = {r: closed_decided[r - 1] for r in range(1, current)}
    order_ids = queue_line(client, sku, stock, limit, line, round=current, closed_decided=earlier)
    for index, poison in poison_at:  # malformed messages anywhere in the line change no decision
        client.linsert(keys.queue, "BEFORE", client.lindex(keys.queue, index) or b"", poison) if client.llen(
            keys.queue
        ) > index else client.rpush(keys.queue, poison)

    dead, published = asyncio.run(drain(firstin_redis.url, sku, batch_size))

    expected = decide_rounds(stock, limit, current, line)
    records = [OrderRecord.model_validate_json(client.hget(keys.orders, i) or b"") for i in order_ids]
    assert [(r.status, r.reason) for r in records] == [(d.status, d.reason) for d in expected]
    assert [r.round for r in records] == [joined for _, _, joined in line]
    for r in range(1, current + 1):  # each round's decisions numbered on from its own count, in position order
        numbers = [record.decision_seq for record in records if record.round == r]
        assert numbers == list(range(earlier.get(r, 0) + 1, earlier.get(r, 0) + len(numbers) + 1))
        if r < current and numbers:
            assert client.hget(keys.rounds, f"{r}:decided") == str(numbers[-1]).encode()
            assert client.hget(keys.rounds, f"{r}:rejected:round_closed") == str(len(numbers)).encode()
    ours = [(q, d) for (_, q, joined), d in zip(line, expected, strict=True) if joined == current]
    accepted = sum(q for q, d in ours if d.status is OrderStatus.ACCEPTED)
    product = client.hgetall(keys.product)
    assert int(product[b"stock_left"]) == stock - accepted >= 0
    assert int(product[b"pending_qty"]) == 0
    assert int(product[b"decided"]) == len(ours)
    assert int(product.get(b"accepted", 0)) == sum(1 for _, d in ours if d.status is OrderStatus.ACCEPTED)
    for reason in {d.reason for _, d in ours if d.reason is not None}:
        assert int(product[f"rejected:{reason}".encode()]) == sum(1 for _, d in ours if d.reason is reason)
    assert product[b"sold_out"] == (b"1" if stock - accepted == 0 else b"0")
    assert dead == len(poison_at) == client.llen(keys.dead_letters)
    outcomes = [d for batch in published for d in batch.decisions]
    assert [(d.order_id, d.status, d.reason, d.decision_seq) for d in outcomes] == [
        (r.order_id, r.status, r.reason, r.decision_seq) for r in records
    ]
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
