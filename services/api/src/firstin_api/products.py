"""Redis adapter of the api's products: their set-up (configure.lua, which starts a sale round), what the pages
and GET /products show, and the rounds each product has had."""

import json
from dataclasses import dataclass, field
from importlib.resources import files
from typing import cast

from redis.asyncio import Redis

from firstin_contracts import PRODUCTS_SET, WAKE_CHANNEL, ProductKeys

CONFIGURE_SCRIPT = files("firstin_api").joinpath("configure.lua").read_text()
_REJECTED = "rejected:"


@dataclass(frozen=True, slots=True)
class Round:
    """One sale round of a product: the current one (closed_at None) or one a reset closed."""

    round: int
    stock_total: int
    stock_left: int
    per_customer_limit: int | None
    orders: int  # positions given in the round
    decided: int
    accepted: int
    rejected: dict[str, int]
    started_at: int | None  # ms; None for a round from before rounds were recorded
    closed_at: int | None
    first_index: int  # where the round's position 1 is in the product's order-ids list

    @property
    def pending(self) -> int:
        return self.orders - self.decided


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
    round: int
    round_started_at: int | None = None
    accepted: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    dead_letters: int = 0
    decided_by: str | None = None  # the processor holding the product's lease, if one does


class ProductStore:
    def __init__(self, redis: Redis):
        self._redis = redis
        self._configure = redis.register_script(CONFIGURE_SCRIPT)

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
                pipe.llen(keys.dead_letters)
                pipe.get(keys.lease)
            replies = await pipe.execute()
        return [
            _product(sku, *reply)
            for sku, reply in zip(skus, zip(*(replies[i::4] for i in range(4)), strict=True), strict=True)
        ]

    async def configure_product(self, sku: str, *, stock: int, per_customer_limit: int | None) -> int:
        """Create the product or reset it: either starts a new sale round, whose number this returns."""
        keys = ProductKeys(sku)
        round_ = await self._configure(
            keys=[keys.product, keys.bought, PRODUCTS_SET, keys.rounds, keys.order_ids, keys.queue],
            args=[sku, stock, per_customer_limit or 0, WAKE_CHANNEL],
        )
        return int(round_)

    async def dead_letters(self, sku: str, count: int) -> tuple[int, list[bytes]]:
        """How many messages were set aside for the product, and the latest `count` of them, newest first."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.llen(ProductKeys(sku).dead_letters)
            pipe.lrange(ProductKeys(sku).dead_letters, -count, -1)
            total, newest = await pipe.execute()
        return int(total), list(reversed(newest))

    async def rounds(self, sku: str) -> list[Round]:
        """Every round of the product, the current one last; [] for an unknown product."""
        keys = ProductKeys(sku)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.rounds)
            pipe.hgetall(keys.product)
            closed_raw, current_raw = await pipe.execute()
        if not current_raw:
            return []
        closed = {k.decode(): v.decode() for k, v in closed_raw.items()}
        found = []
        for name, summary in closed.items():
            if name.isdigit():
                fields = {str(k): str(v) for k, v in json.loads(summary).items()}
                # The orders a closed round left in line are decided after it closed: its counts go on growing.
                decided = int(closed.get(f"{name}:decided", fields.get("decided", "0")))
                late = int(closed.get(f"{name}:{_REJECTED}round_closed", "0"))
                found.append(_round(fields, decided=decided, round_closed=late))
        current = _decoded(current_raw)
        found.append(_round(current, decided=int(current.get("decided", "0")), round_closed=0))
        return sorted(found, key=lambda r: r.round)

    async def round(self, sku: str, number: int | None) -> Round | None:
        """A round of the product (None: the current one), or None if there is no such round."""
        rounds = await self.rounds(sku)
        if number is None:
            return rounds[-1] if rounds else None
        return next((r for r in rounds if r.round == number), None)


def _decoded(fields: dict[bytes, bytes]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in fields.items()}


def _rejected(fields: dict[str, str]) -> dict[str, int]:
    return {k.removeprefix(_REJECTED): int(v) for k, v in fields.items() if k.startswith(_REJECTED) and int(v)}


def _round(fields: dict[str, str], *, decided: int, round_closed: int) -> Round:
    rejected = _rejected(fields)
    if round_closed:
        rejected["round_closed"] = round_closed
    started = fields.get("round_started_at")
    closed = fields.get("closed_at")
    return Round(
        round=int(fields.get("round", "1")),
        stock_total=int(fields["stock_total"]),
        stock_left=int(fields["stock_left"]),
        per_customer_limit=int(fields.get("per_customer_limit", "0")) or None,
        orders=int(fields.get("last_position", "0")),
        decided=decided,
        accepted=int(fields.get("accepted", "0")),
        rejected=rejected,
        started_at=int(started) if started else None,
        closed_at=int(closed) if closed else None,
        first_index=int(fields.get("first_index", "0")),
    )


def _product(
    sku: str, raw: dict[bytes, bytes], queue_length: int, dead_letters: int, holder: bytes | None
) -> Product | None:
    if not raw:
        return None
    f = _decoded(raw)
    started = f.get("round_started_at")
    return Product(
        sku=sku,
        stock_total=int(f["stock_total"]),
        stock_left=int(f["stock_left"]),
        sold_out=f.get("sold_out") == "1",
        per_customer_limit=int(f.get("per_customer_limit", "0")) or None,
        now_serving=int(f.get("now_serving", "0")),
        queue_length=int(queue_length),
        last_position=int(f.get("last_position", "0")),
        decided=int(f.get("decided", "0")),
        round=int(f.get("round", "1")),
        round_started_at=int(started) if started else None,
        accepted=int(f.get("accepted", "0")),
        rejected=_rejected(f),
        dead_letters=int(dead_letters),
        decided_by=holder.decode() if holder else None,
    )
