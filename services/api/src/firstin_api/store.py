"""Redis adapter of the api: the door check, queueing an order, and reading orders and products."""

import hashlib
import time
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, cast

from faststream.redis import RedisBroker
from pydantic import ValidationError
from redis.asyncio import Redis

from firstin_api import metrics
from firstin_api.group_commit import GroupCommit
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
class NewOrder:
    """An order on its way into line."""

    order_id: str
    sku: str
    email: str
    quantity: int
    session_id: str
    client_ip: str
    # Whether the request carried a valid token of `session_id`. Such a request counts against its session's
    # request limit, not its email's: anyone can name any email (POST /sessions, orders), so a stranger could
    # otherwise use up a buyer's limit and lock the buyer out. Anonymous requests keep the email's limit.
    session_presented: bool = False

    @property
    def rate_counter(self) -> str:
        return _session_counter(self.session_id) if self.session_presented else _email_counter(self.email)


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


def _ip_counter(client_ip: str) -> str:
    return f"firstin:rate:ip:{client_ip}"


def _email_counter(email: str) -> str:
    return f"firstin:rate:email:{email}"


# Delete an idempotency claim only if it is still ours (its value starts with our order id).
_RELEASE_CLAIM = """
local value = redis.call('GET', KEYS[1])
if value and string.sub(value, 1, string.len(ARGV[1])) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _session_counter(session_id: str) -> str:
    return f"firstin:rate:session:{session_id}"


def _door_refusal(verdict: bytes, number: int, sku: str) -> Exception | None:
    """What door.lua's verdict refuses, or None when the door is open."""
    match verdict:
        case b"rate_limited":
            return RateLimited(int(number))
        case b"unknown":
            return UnknownProduct(sku)
        case b"sold_out":
            return SoldOut(sku)
    return None


def _triples(flat: list[Any]) -> list[tuple[Any, Any, Any]]:
    return list(zip(flat[::3], flat[1::3], flat[2::3], strict=True))


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
        max_group: int = 256,
    ):
        self._broker = broker
        self._redis = redis
        self._configure = redis.register_script(CONFIGURE_SCRIPT)
        self._door = redis.register_script(DOOR_SCRIPT)
        self._rate_limits = rate_limits
        self._idempotency_ttl = idempotency_ttl
        self._recent_orders_kept = recent_orders_kept
        self._enqueue = redis.register_script(ENQUEUE_SCRIPT)
        self._release_claim = redis.register_script(_RELEASE_CLAIM)
        self._orders = GroupCommit(self.queue_orders, max_group=max_group, on_group=metrics.ORDER_GROUP_SIZE.observe)

    async def pass_door(self, *, client_ip: str, email: str, sku: str | None) -> None:
        """Rate limits, then (with a sku) whether the product exists and its line still has room, in one round
        trip. POST /sessions checks the rate limits alone; orders pass the door in groups (queue_orders)."""
        keys = ProductKeys(sku or "-")
        verdict, number = await self._door(
            keys=[keys.product, _ip_counter(client_ip), _email_counter(email)],
            args=[self._rate_limits.per_ip, self._rate_limits.per_email, RATE_WINDOW_SECONDS, int(sku is not None)],
        )
        if refusal := _door_refusal(verdict, number, sku or "-"):
            raise refusal

    async def door_closed(self, sku: str) -> bool:
        """Whether the product's door is closed (sold out, or its line covers the stock): door.lua itself, with
        no rate limit to count against. An unknown product is not closed (it is a 404)."""
        keys = ProductKeys(sku)
        verdict, _ = await self._door(keys=[keys.product, "", ""], args=[0, 0, RATE_WINDOW_SECONDS, 1])
        return bool(verdict == b"sold_out")

    async def place_order(
        self,
        *,
        sku: str,
        email: str,
        quantity: int,
        session_id: str,
        client_ip: str,
        idempotency_key: str | None,
        session_presented: bool = False,
    ) -> PlacedOrder:
        order_id = order_id_for(sku)
        if idempotency_key is not None:
            claimed_id = await self._claim_idempotency_key(
                ProductKeys(sku), idempotency_key, order_id, sku, email, quantity
            )
            if claimed_id != order_id:
                if record := await self.get_order(claimed_id):
                    return PlacedOrder(record, replayed=True)
                # The first attempt with this key died before queueing: finish it under the same order id.
                order_id = claimed_id
        order = NewOrder(order_id, sku, email, quantity, session_id, client_ip, session_presented)
        try:
            return PlacedOrder(await self._orders.submit(order))
        except (SoldOut, UnknownProduct, RateLimited):
            if idempotency_key is not None:
                # Claimed only by an order that is queued: a refusal leaves the key free for the buyer's retry.
                await self._release_idempotency_key(ProductKeys(sku), idempotency_key, order_id, email)
            raise

    async def queue_orders(self, orders: list[NewOrder]) -> list[OrderRecord | Exception]:
        """Each order's record, or why it was not queued: the door for every order in one round trip, then the
        admitted ones in one MULTI. A Redis error raises (the whole group answers 503)."""
        verdicts = await self._door_verdicts(orders)
        admitted = [order for order, verdict in zip(orders, verdicts, strict=True) if verdict is None]
        records = iter(await self.enqueue(admitted) if admitted else [])
        return [next(records) if verdict is None else verdict for verdict in verdicts]

    async def _door_verdicts(self, orders: list[NewOrder]) -> list[Exception | None]:
        """None for an order that may join its line. A product's room is shared by the group, in arrival order."""
        async with self._redis.pipeline(transaction=False) as pipe:
            # Loaded in the same round trip, so the EVALSHAs after it never meet NOSCRIPT (e.g. after a restart).
            pipe.script_load(DOOR_SCRIPT)
            for order in orders:
                pipe.evalsha(
                    self._door.sha,
                    3,
                    *(ProductKeys(order.sku).product, _ip_counter(order.client_ip), order.rate_counter),
                    *(self._rate_limits.per_ip, self._rate_limits.per_email, RATE_WINDOW_SECONDS, 1),
                )
            replies = (await pipe.execute())[1:]
        room: dict[str, int] = {}
        verdicts: list[Exception | None] = []
        for order, (verdict, number) in zip(orders, replies, strict=True):
            if refusal := _door_refusal(verdict, number, order.sku):
                verdicts.append(refusal)
            else:  # open, with `number` left in line
                left = room.setdefault(order.sku, int(number))
                verdicts.append(None if left > 0 else SoldOut(order.sku))
                room[order.sku] = left - order.quantity
        return verdicts

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
                    3,
                    *(keys.product, keys.orders, keys.queue),
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
            for index, (position, created_at, stored_session) in zip(indexes, _triples(reply), strict=True):
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
                )
        return records

    async def _claim_idempotency_key(
        self, keys: ProductKeys, key: str, order_id: str, sku: str, email: str, quantity: int
    ) -> str:
        """The order id this key stands for: ours if we claimed it first, else the first claimant's. Keys belong to
        a buyer (email) and product: the same key from another buyer is another key, so nobody can squat one."""
        body_digest = _digest(f"{sku}\n{email}\n{quantity}")
        idem_key = keys.idempotency(_digest(f"{email}\n{key}"))
        if await self._redis.set(idem_key, f"{order_id} {body_digest}", nx=True, ex=self._idempotency_ttl):
            return order_id
        existing = await self._redis.get(idem_key)
        if existing is None:  # expired in between: claim again
            return await self._claim_idempotency_key(keys, key, order_id, sku, email, quantity)
        first_order_id, first_digest = cast(bytes, existing).decode().split(" ", 1)
        if first_digest != body_digest:
            raise IdempotencyKeyReused(key)
        return first_order_id

    async def _release_idempotency_key(self, keys: ProductKeys, key: str, order_id: str, email: str) -> None:
        idem_key = keys.idempotency(_digest(f"{email}\n{key}"))
        await self._release_claim(keys=[idem_key], args=[f"{order_id} "])

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
