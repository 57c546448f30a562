"""Redis adapter of the api: the door check, queueing an order, and reading orders and products."""

import hashlib
import time
from dataclasses import dataclass
from importlib.resources import files
from typing import cast

from faststream.redis import RedisBroker
from pydantic import ValidationError
from redis.asyncio import Redis

from firstin_contracts import (
    PRODUCTS_SET,
    QUEUED_CHANNEL,
    WAKE_CHANNEL,
    OrderRecord,
    OrderStatus,
    PlaceOrder,
    ProductKeys,
    SessionKeys,
    order_id_for,
    sku_of_order_id,
)

_SCRIPTS = files("firstin_api")
ENQUEUE_SCRIPT = _SCRIPTS.joinpath("enqueue.lua").read_text()
CONFIGURE_SCRIPT = _SCRIPTS.joinpath("configure.lua").read_text()
DOOR_SCRIPT = _SCRIPTS.joinpath("door.lua").read_text()
RATE_WINDOW_SECONDS = 60


class UnknownProduct(Exception):
    pass


class SoldOut(Exception):
    pass


class IdempotencyKeyReused(Exception):
    """The Idempotency-Key was first used with another body."""


class RateLimited(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"rate limited, retry after {retry_after}s")
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class RateLimits:
    per_ip: int
    per_email: int


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    record: OrderRecord
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class Product:
    sku: str
    stock_total: int
    stock_left: int
    sold_out: bool
    per_customer_limit: int | None
    now_serving: int
    queue_length: int
    last_position: int
    decided: int


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class OrderStore:
    def __init__(
        self,
        broker: RedisBroker,
        redis: Redis,
        *,
        idempotency_ttl: int,
        recent_orders_kept: int,
        rate_limits: RateLimits,
    ):
        self._broker = broker
        self._redis = redis
        self._configure = redis.register_script(CONFIGURE_SCRIPT)
        self._door = redis.register_script(DOOR_SCRIPT)
        self._rate_limits = rate_limits
        self._idempotency_ttl = idempotency_ttl
        self._recent_orders_kept = recent_orders_kept

    async def pass_door(self, *, client_ip: str, email: str, sku: str | None) -> None:
        """Rate limits, then (for an order) whether the product exists and its line still has room.

        One round trip, so a sold-out stampede costs Redis almost nothing and queues nothing.
        """
        keys = ProductKeys(sku or "-")
        verdict, retry_after = await self._door(
            keys=[keys.product, f"firstin:rate:ip:{client_ip}", f"firstin:rate:email:{email}"],
            args=[self._rate_limits.per_ip, self._rate_limits.per_email, RATE_WINDOW_SECONDS, int(sku is not None)],
        )
        match verdict:
            case b"rate_limited":
                raise RateLimited(int(retry_after))
            case b"unknown":
                raise UnknownProduct(sku)
            case b"sold_out":
                raise SoldOut(sku)

    async def door_closed(self, sku: str) -> bool:
        """Whether the product's door is closed (sold out, or its line covers the stock): door.lua itself, with
        no rate limit to count against. An unknown product is not closed (it is a 404)."""
        keys = ProductKeys(sku)
        verdict, _ = await self._door(keys=[keys.product, "", ""], args=[0, 0, RATE_WINDOW_SECONDS, 1])
        return bool(verdict == b"sold_out")

    async def place_order(
        self, *, sku: str, email: str, quantity: int, session_id: str, client_ip: str, idempotency_key: str | None
    ) -> PlacedOrder:
        keys = ProductKeys(sku)
        order_id = order_id_for(sku)
        if idempotency_key is not None:
            claimed_id = await self._claim_idempotency_key(keys, idempotency_key, order_id, sku, email, quantity)
            if claimed_id != order_id:
                if record := await self.get_order(claimed_id):
                    return PlacedOrder(record, replayed=True)
                # The first attempt with this key died before queueing: finish it under the same order id.
                order_id = claimed_id

        await self.pass_door(client_ip=client_ip, email=email, sku=sku)

        message = PlaceOrder(order_id=order_id, sku=sku, email=email, quantity=quantity)
        session = SessionKeys(session_id)
        now_ms = int(time.time() * 1000)
        # MULTI/EXEC: the record (script) and the queued message (FastStream publish) land together. The script
        # is sent with EVAL, not EVALSHA: a NOSCRIPT error inside MULTI would not stop the RPUSH after it.
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.eval(
                ENQUEUE_SCRIPT,
                3,
                *(keys.product, keys.orders, keys.queue),
                *(order_id, sku, email, quantity, session_id, QUEUED_CHANNEL, WAKE_CHANNEL),
            )
            await self._broker.publish(message, list=keys.queue, pipeline=pipe)
            pipe.zadd(session.recent_orders, {order_id: now_ms})
            pipe.zremrangebyrank(session.recent_orders, 0, -self._recent_orders_kept - 1)
            pipe.expire(session.recent_orders, self._idempotency_ttl)
            position, created_at, stored_session = (await pipe.execute())[0]
        if position == 0:
            raise UnknownProduct(sku)
        # Built from what we sent and what the script returned: no third round trip to re-read it. (A record
        # that already existed, an idempotent retry, is the same order with the same fields.)
        record = OrderRecord(
            order_id=order_id,
            sku=sku,
            email=email,
            session_id=stored_session.decode(),
            quantity=quantity,
            position=int(position),
            status=OrderStatus.PENDING,
            created_at=int(created_at),
        )
        return PlacedOrder(record)

    async def _claim_idempotency_key(
        self, keys: ProductKeys, key: str, order_id: str, sku: str, email: str, quantity: int
    ) -> str:
        """The order id this key stands for: ours if we claimed it first, else the first claimant's."""
        body_digest = _digest(f"{sku}\n{email}\n{quantity}")
        idem_key = keys.idempotency(_digest(key))
        if await self._redis.set(idem_key, f"{order_id} {body_digest}", nx=True, ex=self._idempotency_ttl):
            return order_id
        existing = await self._redis.get(idem_key)
        if existing is None:  # expired in between: claim again
            return await self._claim_idempotency_key(keys, key, order_id, sku, email, quantity)
        first_order_id, first_digest = cast(bytes, existing).decode().split(" ", 1)
        if first_digest != body_digest:
            raise IdempotencyKeyReused(key)
        return first_order_id

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

    async def get_product(self, sku: str) -> Product | None:
        return (await self.get_products([sku]))[0]

    async def all_products(self) -> list[Product]:
        skus = sorted(cast(bytes, s).decode() for s in await self._redis.smembers(PRODUCTS_SET))
        return [p for p in await self.get_products(skus) if p is not None]

    async def get_products(self, skus: list[str]) -> list[Product | None]:
        """Several products in one round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for sku in skus:
                keys = ProductKeys(sku)
                pipe.hgetall(keys.product)
                pipe.llen(keys.queue)
            replies = await pipe.execute()
        return [
            self._product(sku, fields, queue_length)
            for sku, fields, queue_length in zip(skus, replies[::2], replies[1::2], strict=True)
        ]

    @staticmethod
    def _product(sku: str, fields: dict[bytes, bytes], queue_length: int) -> Product | None:
        if not fields:
            return None
        f = {k.decode(): v.decode() for k, v in fields.items()}
        limit = int(f.get("per_customer_limit", "0"))
        return Product(
            sku=sku,
            stock_total=int(f["stock_total"]),
            stock_left=int(f["stock_left"]),
            sold_out=f.get("sold_out") == "1",
            per_customer_limit=limit or None,
            now_serving=int(f.get("now_serving", "0")),
            queue_length=int(queue_length),
            last_position=int(f.get("last_position", "0")),
            decided=int(f.get("decided", "0")),
        )

    async def configure_product(self, sku: str, *, stock: int, per_customer_limit: int | None) -> None:
        keys = ProductKeys(sku)
        await self._configure(
            keys=[keys.product, keys.bought, PRODUCTS_SET], args=[sku, stock, per_customer_limit or 0]
        )

    async def ping(self) -> bool:
        return bool(await self._redis.ping())
