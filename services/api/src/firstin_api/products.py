"""Redis adapter of the api's products: their set-up (configure.lua) and what the pages and GET /products show."""

from dataclasses import dataclass
from importlib.resources import files
from typing import cast

from redis.asyncio import Redis

from firstin_contracts import PRODUCTS_SET, ProductKeys

CONFIGURE_SCRIPT = files("firstin_api").joinpath("configure.lua").read_text()


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
            replies = await pipe.execute()
        return [
            _product(sku, fields, queue_length)
            for sku, fields, queue_length in zip(skus, replies[::2], replies[1::2], strict=True)
        ]

    async def configure_product(self, sku: str, *, stock: int, per_customer_limit: int | None) -> None:
        keys = ProductKeys(sku)
        await self._configure(
            keys=[keys.product, keys.bought, PRODUCTS_SET], args=[sku, stock, per_customer_limit or 0]
        )


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
