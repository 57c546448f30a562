"""Black-box tests of the whole system. The stack fixtures (a private redis-server, the api, processor and
notifier as real processes) come from the firstin_stack pytest plugin."""

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from firstin_stack import FirstinClient, RedisServer, Stack, StackConfig


@pytest_asyncio.fixture
async def redis_client(firstin_redis: RedisServer) -> AsyncIterator[aioredis.Redis]:
    """Direct access to the stack's Redis, for audits and for pushing hostile messages."""
    client = aioredis.Redis.from_url(firstin_redis.url)
    try:
        yield client
    finally:
        await client.aclose()


StackFactory = Callable[..., tuple[RedisServer, Stack]]


@pytest.fixture
def private_stack(tmp_path: Path) -> Iterator[StackFactory]:
    """A redis-server and stack of the test's own, for tests that kill or restart processes."""
    started: list[tuple[RedisServer, Stack]] = []

    def make(*, appendonly: bool = False, **env: str) -> tuple[RedisServer, Stack]:
        server = RedisServer(appendonly=appendonly).start()
        config = StackConfig(redis_url=server.url, log_dir=tmp_path / "logs", extra_env=env)
        started.append((server, Stack(config)))
        started[-1][1].start()
        return started[-1]

    yield make
    for server, stack in started:
        stack.stop()
        server.stop()


@pytest_asyncio.fixture
async def client_of() -> AsyncIterator[Callable[[Stack], FirstinClient]]:
    """A FirstinClient for a private stack, closed after the test."""
    clients: list[FirstinClient] = []

    def make(stack: Stack) -> FirstinClient:
        clients.append(FirstinClient(stack.api_url, stack.notifier_url, stack.config.admin_token))
        return clients[-1]

    yield make
    for client in clients:
        await client.aclose()
