"""What the services write to Redis is what libs/contracts says: a sale through real processes, with every
message on every channel, every queued order and every stored record read back and validated against its model
(the models forbid fields they do not name). The Lua scripts write these with cjson, out of pydantic's reach:
this test is where a field renamed in a script, or in a model alone, shows."""

import asyncio
import json

import pytest
import redis.asyncio as aioredis
from pydantic import BaseModel

from firstin_contracts import (
    OUTCOMES_CHANNEL,
    PROGRESS_CHANNEL,
    QUEUED_CHANNEL,
    WAKE_CHANNEL,
    OrderQueued,
    OrderRecord,
    OrdersDecided,
    OrderStatus,
    PlaceOrder,
    ProductKeys,
    ProductQueued,
    ProgressUpdated,
    RejectReason,
)
from firstin_stack import unique_email, unique_sku

from .conftest import StackFactory
from .sale import wait_until

pytestmark = pytest.mark.slow

CHANNEL_MODELS: dict[str, type[BaseModel]] = {
    OUTCOMES_CHANNEL: OrdersDecided,
    QUEUED_CHANNEL: OrderQueued,
    WAKE_CHANNEL: ProductQueued,
    PROGRESS_CHANNEL: ProgressUpdated,
}


async def test_every_message_and_record_matches_its_contract(private_stack: StackFactory, client_of) -> None:
    server, stack = private_stack()
    client = client_of(stack)
    async with aioredis.Redis.from_url(server.url) as redis:
        sku = unique_sku("wire")
        keys = ProductKeys(sku)
        await client.create_product(sku, stock=10, per_customer_limit=2)

        pubsub = redis.pubsub()
        await pubsub.subscribe(*CHANNEL_MODELS)
        heard: dict[str, list[BaseModel]] = {channel: [] for channel in CHANNEL_MODELS}

        async def listen() -> None:
            async for message in pubsub.listen():
                if message["type"] == "message":
                    channel = message["channel"].decode()
                    heard[channel].append(CHANNEL_MODELS[channel].model_validate_json(message["data"]))

        listener = asyncio.create_task(listen())

        # Orders wait in line while the processor is stopped: the queued messages can be read as the api wrote them.
        await asyncio.to_thread(stack.processor.stop)
        buyers = [unique_email() for _ in range(4)]
        token = await client.open_session(buyers[0])
        plan = [(buyers[0], 1, token), (buyers[0], 2, None)] + [
            (email, 2 if i == 0 else 1, None) for i, email in enumerate(buyers[1:])
        ]
        placed = [await client.place_order(email, sku, quantity, token=tok) for email, quantity, tok in plan]
        assert [r.status_code for r in placed] == [202] * 5
        order_ids = [r.json()["order_id"] for r in placed]

        queued = await redis.lrange(keys.queue, 0, -1)
        assert len(queued) == 5
        for raw, order_id in zip(queued, order_ids, strict=True):
            envelope = json.loads(raw)
            assert set(envelope) == {"data", "headers"}, "FastStream's JSON envelope"
            order = PlaceOrder.model_validate_json(envelope["data"])
            assert order.order_id == order_id and order.sku == sku
        pending = [OrderRecord.model_validate_json(raw) for raw in await redis.hmget(keys.orders, order_ids)]
        assert [r.status for r in pending] == [OrderStatus.PENDING] * 5
        assert [r.position for r in pending] == [1, 2, 3, 4, 5]

        await asyncio.to_thread(stack.processor.start)
        await client.wait_until_decided(order_ids)

        async def all_heard() -> bool:
            if listener.done():
                listener.result()  # a message that does not match its model: its ValidationError, here
            decided = sum(len(m.decisions) for m in heard[OUTCOMES_CHANNEL] if isinstance(m, OrdersDecided))
            return decided == 5 and len(heard[QUEUED_CHANNEL]) == 5 and bool(heard[PROGRESS_CHANNEL])

        await wait_until(all_heard, 10, "every decision, queued message and a progress update published")
        listener.cancel()
        await pubsub.aclose()

        decided = {d.order_id: d for m in heard[OUTCOMES_CHANNEL] if isinstance(m, OrdersDecided) for d in m.decisions}
        records = [OrderRecord.model_validate_json(raw) for raw in await redis.hmget(keys.orders, order_ids)]
        for record in records:
            outcome = decided[record.order_id]
            assert (record.status, record.reason, record.decided_at, record.decision_seq) == (
                outcome.status,
                outcome.reason,
                outcome.decided_at,
                outcome.decision_seq,
            )
        # Two per customer: the first buyer's second order would make three, and is refused with its reason.
        assert [(r.status, r.reason) for r in records] == [
            (OrderStatus.ACCEPTED, None),
            (OrderStatus.REJECTED, RejectReason.LIMIT_EXCEEDED),
            (OrderStatus.ACCEPTED, None),
            (OrderStatus.ACCEPTED, None),
            (OrderStatus.ACCEPTED, None),
        ]
        assert {q.order_id for q in heard[QUEUED_CHANNEL] if isinstance(q, OrderQueued)} == set(order_ids)
        assert [w.sku for w in heard[WAKE_CHANNEL] if isinstance(w, ProductQueued)] == [sku], "the line was empty once"
