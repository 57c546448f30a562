"""Redis adapter of the api's orders: the door (door.lua), the line (enqueue.lua, one group of orders at a
time), Idempotency-Keys and order records."""

import hashlib
import time
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, cast

from faststream.redis import RedisBroker
from pydantic import ValidationError
from redis.asyncio import Redis

from firstin_api import metrics
from firstin_api.door import DoorReading, Open, admit
from firstin_api.group_commit import GroupCommit
from firstin_api.placing import KeyReused, LimitReached, NewOrder, Order, SoldOut, UnknownProduct
from firstin_contracts import (
    QUEUED_CHANNEL,
    WAKE_CHANNEL,
    OrderRecord,
    OrderStatus,
    PlaceOrder,
    ProductKeys,
    SessionKeys,
    sku_of_order_id,
)

_SCRIPTS = files("firstin_api")
ENQUEUE_SCRIPT = _SCRIPTS.joinpath("enqueue.lua").read_text()
DOOR_SCRIPT = _SCRIPTS.joinpath("door.lua").read_text()
RATE_WINDOW_SECONDS = 60

# Delete an idempotency claim only if it is still ours (its value starts with our order id).
_RELEASE_CLAIM = """
local value = redis.call('GET', KEYS[1])
if value and string.sub(value, 1, string.len(ARGV[1])) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True, slots=True)
class RateLimits:
    per_ip: int
    per_email: int


def _ip_counter(client_ip: str) -> str:
    return f"firstin:rate:ip:{client_ip}"


def _email_counter(email: str) -> str:
    return f"firstin:rate:email:{email}"


def _session_counter(session_id: str) -> str:
    return f"firstin:rate:session:{session_id}"


def _buyer_counter(order: NewOrder) -> str:
    return _session_counter(order.session_id) if order.session_presented else _email_counter(order.email)


def _reading(reply: list[Any], sku: str) -> DoorReading:
    verdict, number = reply
    match verdict:
        case b"rate_limited":
            return LimitReached(int(number))
        case b"unknown":
            return UnknownProduct(sku)
        case b"sold_out":
            return SoldOut(sku)
    return Open(int(number))


def _quadruples(flat: list[Any]) -> list[tuple[Any, Any, Any, Any]]:
    return list(zip(flat[::4], flat[1::4], flat[2::4], flat[3::4], strict=True))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _idempotency_key(key: str, order: Order) -> str:
    # Keys belong to a buyer (email) and product: the same key from another buyer is another key.
    return ProductKeys(order.sku).idempotency(_digest(f"{order.email}\n{key}"))


class OrderStore:
    def __init__(
        self,
        broker: RedisBroker,
        redis: Redis,
        *,
        idempotency_ttl: int,
        recent_orders_kept: int,
        rate_limits: RateLimits,
        max_group: int = 256,
    ):
        self._broker = broker
        self._redis = redis
        self._door = redis.register_script(DOOR_SCRIPT)
        self._rate_limits = rate_limits
        self._idempotency_ttl = idempotency_ttl
        self._recent_orders_kept = recent_orders_kept
        self._enqueue = redis.register_script(ENQUEUE_SCRIPT)
        self._release_claim = redis.register_script(_RELEASE_CLAIM)
        self._orders = GroupCommit(self.queue_orders, max_group=max_group, on_group=metrics.ORDER_GROUP_SIZE.observe)

    async def join(self, order: NewOrder) -> OrderRecord:
        """The order's record once in line, travelling to Redis with the orders that arrive meanwhile."""
        return await self._orders.submit(order)

    async def count_request(self, *, client_ip: str, email: str) -> LimitReached | None:
        """Count a request that names no product (POST /sessions) against the request limits."""
        reading = await self._door(
            keys=[ProductKeys("-").product, _ip_counter(client_ip), _email_counter(email)],
            args=[self._rate_limits.per_ip, self._rate_limits.per_email, RATE_WINDOW_SECONDS, 0],
        )
        limited = _reading(reading, "-")
        return limited if isinstance(limited, LimitReached) else None

    async def door_closed(self, sku: str) -> bool:
        """Whether the product's door is closed (sold out, or its line covers the stock): door.lua itself, with
        no request limit to count against. An unknown product is not closed (it is a 404)."""
        reading = await self._door(keys=[ProductKeys(sku).product, "", ""], args=[0, 0, RATE_WINDOW_SECONDS, 1])
        return isinstance(_reading(reading, sku), SoldOut)

    async def queue_orders(self, orders: list[NewOrder]) -> list[OrderRecord | Exception]:
        """Each order's record, or why it was not queued: the door for every order in one round trip, then the
        admitted ones in one MULTI. A Redis error raises (the whole group answers 503)."""
        verdicts = admit(orders, await self._door_readings(orders))
        admitted = [order for order, verdict in zip(orders, verdicts, strict=True) if verdict is None]
        records = iter(await self.enqueue(admitted) if admitted else [])
        return [next(records) if verdict is None else verdict for verdict in verdicts]

    async def _door_readings(self, orders: list[NewOrder]) -> list[DoorReading]:
        async with self._redis.pipeline(transaction=False) as pipe:
            # Loaded in the same round trip, so the EVALSHAs after it never meet NOSCRIPT (e.g. after a restart).
            pipe.script_load(DOOR_SCRIPT)
            for order in orders:
                pipe.evalsha(
                    self._door.sha,
                    3,
                    *(ProductKeys(order.sku).product, _ip_counter(order.client_ip), _buyer_counter(order)),
                    *(self._rate_limits.per_ip, self._rate_limits.per_email, RATE_WINDOW_SECONDS, 1),
                )
            replies = (await pipe.execute())[1:]
        return [_reading(reply, order.sku) for order, reply in zip(orders, replies, strict=True)]

    async def enqueue(self, orders: list[NewOrder]) -> list[OrderRecord | Exception]:
        """Queue orders that passed the door: one MULTI for the whole group."""
        by_sku: dict[str, list[int]] = {}
        for index, order in enumerate(orders):
            by_sku.setdefault(order.sku, []).append(index)
        now_ms = int(time.time() * 1000)
        # MULTI/EXEC: the records (script) and the queued messages (FastStream publish) land together.
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.script_load(ENQUEUE_SCRIPT)  # inside the MULTI: a NOSCRIPT there would not stop the RPUSH
            for sku, indexes in by_sku.items():
                keys = ProductKeys(sku)
                group = [orders[i] for i in indexes]
                pipe.evalsha(
                    self._enqueue.sha,
                    4,
                    *(keys.product, keys.orders, keys.queue, keys.order_ids),
                    *(sku, QUEUED_CHANNEL, WAKE_CHANNEL),
                    *(field for o in group for field in (o.order_id, o.email, o.quantity, o.session_id)),
                )
                messages = [PlaceOrder(order_id=o.order_id, sku=sku, email=o.email, quantity=o.quantity) for o in group]
                await self._broker.publish_batch(*messages, list=keys.queue, pipeline=pipe)
            for order in orders:
                session = SessionKeys(order.session_id)
                pipe.zadd(session.recent_orders, {order.order_id: now_ms})
                pipe.zremrangebyrank(session.recent_orders, 0, -self._recent_orders_kept - 1)
                pipe.expire(session.recent_orders, self._idempotency_ttl)
            replies = await pipe.execute()
        records: list[OrderRecord | Exception] = [UnknownProduct("")] * len(orders)
        for (sku, indexes), reply in zip(by_sku.items(), replies[1 : 1 + 2 * len(by_sku) : 2], strict=True):
            for index, (position, created_at, stored_session, round_) in zip(indexes, _quadruples(reply), strict=True):
                order = orders[index]
                if position == 0:
                    records[index] = UnknownProduct(sku)
                    continue
                # Built from what we sent and what the script returned, with no round trip to re-read it. (A
                # record that already existed, an idempotent retry, is the same order with the same fields.)
                records[index] = OrderRecord(
                    order_id=order.order_id,
                    sku=sku,
                    email=order.email,
                    session_id=stored_session.decode(),
                    quantity=order.quantity,
                    position=int(position),
                    status=OrderStatus.PENDING,
                    created_at=int(created_at),
                    round=int(round_),
                )
        return records

    async def claim_key(self, key: str, order: Order, order_id: str) -> str:
        """The order id this key stands for: ours if we claimed it first, else the first claimant's."""
        body_digest = _digest(f"{order.sku}\n{order.email}\n{order.quantity}")
        idem_key = _idempotency_key(key, order)
        if await self._redis.set(idem_key, f"{order_id} {body_digest}", nx=True, ex=self._idempotency_ttl):
            return order_id
        existing = await self._redis.get(idem_key)
        if existing is None:  # expired in between: claim again
            return await self.claim_key(key, order, order_id)
        first_order_id, first_digest = cast(bytes, existing).decode().split(" ", 1)
        if first_digest != body_digest:
            raise KeyReused(key)
        return first_order_id

    async def release_key(self, key: str, order: Order, order_id: str) -> None:
        await self._release_claim(keys=[_idempotency_key(key, order)], args=[f"{order_id} "])

    async def get_order(self, order_id: str) -> OrderRecord | None:
        sku = sku_of_order_id(order_id)
        if sku is None:
            return None
        raw = await self._redis.hget(ProductKeys(sku).orders, order_id)
        if raw is None:
            return None
        try:
            return OrderRecord.model_validate_json(raw)
        except ValidationError:
            return None

    async def ping(self) -> bool:
        return bool(await self._redis.ping())
