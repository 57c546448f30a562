"""Black-box tests of the whole system. The stack fixtures (a private redis-server, the api, processor and
notifier as real processes) come from the firstin_stack pytest plugin."""

from collections.abc import AsyncIterator

import pytest_asyncio
import redis.asyncio as aioredis

from firstin_stack import RedisServer


@pytest_asyncio.fixture
async def redis_client(firstin_redis: RedisServer) -> AsyncIterator[aioredis.Redis]:
    """Direct access to the stack's Redis, for audits and for pushing hostile messages."""
    client = aioredis.Redis.from_url(firstin_redis.url)
    try:
        yield client
    finally:
        await client.aclose()
