"""Product leases on a real redis-server: one holder per product, renewed while held, handed over when idle or
stopped, lost when another took it, and spread over processors woken together."""

import asyncio
import time
import uuid

import redis.asyncio as aioredis

from firstin_contracts import ProductKeys
from firstin_processor.lease import ProductLeases
from firstin_stack import RedisServer


def new_sku() -> str:
    return f"lease-{uuid.uuid4().hex[:8]}"


async def until(condition, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_one_holder_per_product_until_it_stops(firstin_redis: RedisServer) -> None:
    client = aioredis.Redis.from_url(firstin_redis.url)
    first, second = ProductLeases(client, ttl_seconds=0.6), ProductLeases(client, ttl_seconds=0.6)
    first.start()
    second.start()
    sku = new_sku()
    try:
        assert await first.take(sku) and not await second.take(sku)
        assert await first.take(sku), "taking a lease one holds already is a yes"
        await asyncio.sleep(1.5)  # well past the TTL: renewals keep it
        assert first.holds(sku) and not await second.take(sku)
        await first.stop()
        assert await second.take(sku), "a stopped holder hands its leases over at once"
    finally:
        await second.stop()
        await client.aclose()


async def test_a_lease_whose_line_stays_empty_is_let_go(firstin_redis: RedisServer) -> None:
    client = aioredis.Redis.from_url(firstin_redis.url)
    leases = ProductLeases(client, ttl_seconds=0.6)
    leases.start()
    busy, idle = new_sku(), new_sku()
    try:
        assert await leases.take(busy) and await leases.take(idle)
        leases.line_empty(idle)
        await until(lambda: not leases.holds(idle), 3)
        assert leases.holds(busy)
        assert await client.get(ProductKeys(idle).lease) is None
    finally:
        await leases.stop()
        await client.aclose()


async def test_a_lease_taken_by_another_is_noticed_and_dropped(firstin_redis: RedisServer) -> None:
    client = aioredis.Redis.from_url(firstin_redis.url)
    leases = ProductLeases(client, ttl_seconds=0.6)
    leases.start()
    sku = new_sku()
    try:
        assert await leases.take(sku)
        await client.set(ProductKeys(sku).lease, "someone-else")  # as after a lapse and a takeover
        await until(lambda: not leases.holds(sku), 3)
        assert not await leases.take(sku)
    finally:
        await leases.stop()
        await client.aclose()


async def test_processors_woken_together_share_the_products(firstin_redis: RedisServer) -> None:
    client = aioredis.Redis.from_url(firstin_redis.url)
    processors = [ProductLeases(client, ttl_seconds=3) for _ in range(3)]
    skus = [new_sku() for _ in range(12)]
    try:
        # Each processor reaches for every product in turn, as its decision loop does when the products' wake-ups
        # reach all of them at once.
        async def reach(p: ProductLeases) -> None:
            for sku in skus:
                await p.take(sku)

        await asyncio.gather(*(reach(p) for p in processors))
        held = [p.held for p in processors]
        assert set().union(*held) == set(skus)
        assert sum(len(h) for h in held) == len(skus), "one holder per product"
        assert all(len(h) >= 2 for h in held), [len(h) for h in held]
    finally:
        for p in processors:
            await p.stop()
        await client.aclose()
