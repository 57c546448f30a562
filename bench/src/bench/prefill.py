"""Orders put in a product's line while no processor runs, written as the api writes them.

The processor scenario measures the processor alone, so its line is filled before a processor starts, faster than
the api's HTTP path would fill it and with no api running. What lands in Redis is what the api's enqueue leaves
for each order, in the shapes `firstin_contracts` defines:

- the order's record in the product's orders hash: an `OrderRecord`, pending, with its position, its sale round and
  `created_at` (Redis `TIME`, in ms), without the fields a decision adds;
- the product's `last_position` and `pending_qty` counters, raised as the orders join (the door reads them), and
  the order id on the product's order-ids list (a round's orders are listed from it);
- a `PlaceOrder` on the product's list, in the envelope the api's FastStream publisher writes:
  `{"data": "<PlaceOrder JSON>", "headers": {"correlation_id": ..., "content-type": "application/json"}}`, one
  correlation id per group published together.

The api also publishes an `OrderQueued` per order and a `ProductQueued` when the line was empty; nothing listens
during a prefill, and a processor that starts finds the line on its own (it looks at every product's line), so
neither is written here. Nothing else may write to the line meanwhile: positions are counted from the product's
`last_position` as read here.
"""

import json
import uuid
from collections.abc import Callable

import redis

from firstin_contracts import OrderRecord, OrderStatus, PlaceOrder, ProductKeys, order_id_for


def queued_message(order: PlaceOrder, correlation_id: str) -> bytes:
    return json.dumps(
        {
            "data": order.model_dump_json(),
            "headers": {"correlation_id": correlation_id, "content-type": "application/json"},
        },
        separators=(",", ":"),
    ).encode()


def _default_email(index: int) -> str:
    return f"pre-{index}@example.com"


def prefill(
    client: "redis.Redis",
    sku: str,
    orders: int,
    *,
    chunk: int = 2000,
    email: Callable[[int], str] = _default_email,
) -> list[str]:
    """Queue `orders` orders of one item each for `sku`, `chunk` per round trip; returns their order ids in line
    order. The product must exist (configured through the api)."""
    keys = ProductKeys(sku)
    if not client.exists(keys.product):
        raise RuntimeError(f"product {sku!r} does not exist: configure it first")
    last_raw, round_raw = client.hmget(keys.product, ["last_position", "round"])
    last, round_ = int(last_raw or 0), int(round_raw or 1)
    order_ids: list[str] = []
    for first in range(0, orders, chunk):
        seconds, micros = client.time()
        created_at = seconds * 1000 + micros // 1000
        correlation_id = str(uuid.uuid4())
        records: list[str] = []  # order id, record, order id, record...
        messages: list[bytes] = []
        for index in range(first, min(orders, first + chunk)):
            last += 1
            order_id = order_id_for(sku)
            record = OrderRecord(
                order_id=order_id,
                sku=sku,
                email=email(index),
                session_id=f"session-{index}",
                quantity=1,
                position=last,
                status=OrderStatus.PENDING,
                created_at=created_at,
                round=round_,
            )
            # The fields a decision adds are absent from a pending record, not null.
            records += [order_id, record.model_dump_json(exclude_none=True)]
            messages.append(
                queued_message(PlaceOrder(order_id=order_id, sku=sku, email=record.email, quantity=1), correlation_id)
            )
            order_ids.append(order_id)
        with client.pipeline(transaction=True) as pipe:
            pipe.hset(keys.orders, items=records)
            pipe.hincrby(keys.product, "last_position", len(messages))
            pipe.hincrby(keys.product, "pending_qty", len(messages))
            pipe.rpush(keys.queue, *messages)
            pipe.rpush(keys.order_ids, *records[::2])
            pipe.execute()
    return order_ids
