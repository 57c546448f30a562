"""Fixtures of the api's tests that need a real Redis: a client, and the order store on it (with its broker)."""

from collections.abc import AsyncIterator

import pytest_asyncio
from faststream.redis import RedisBroker
from redis.asyncio import Redis

from firstin_api.store import OrderStore, RateLimits
from firstin_api.wire import JsonEnvelopeFormat
from firstin_stack import RedisServer


@pytest_asyncio.fixture
async def redis(firstin_redis: RedisServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(firstin_redis.url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest_asyncio.fixture
async def store(firstin_redis: RedisServer, redis: Redis) -> AsyncIterator[OrderStore]:
    """An OrderStore without request limits."""
    broker = RedisBroker(firstin_redis.url, message_format=JsonEnvelopeFormat, logger=None)
    await broker.connect()
    try:
        yield OrderStore(
            broker, redis, idempotency_ttl=60, recent_orders_kept=5, rate_limits=RateLimits(per_ip=0, per_email=0)
        )
    finally:
        await broker.stop()
