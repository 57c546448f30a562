"""pytest plugin: fixtures that start a private Redis and the three firstin services as real processes.

Installed with firstin-stack (entry point `pytest11`), so any test suite can use them; pytest-asyncio, which comes
with it, runs the tests marked for it (or all of them under `asyncio_mode = "auto"`):

    @pytest.mark.asyncio
    async def test_my_integration(firstin: FirstinClient):
        sku = unique_sku()
        await firstin.create_product(sku, stock=3)
        ...
"""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from firstin_stack.client import FirstinClient
from firstin_stack.redis_server import RedisServer
from firstin_stack.services import Stack, StackConfig


@pytest.fixture(scope="session")
def firstin_redis() -> Iterator[RedisServer]:
    """A redis-server of the test session's own, on a free port."""
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def firstin_stack(firstin_redis: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The api (2 workers), processor and notifier, running against the session's Redis."""
    log_dir: Path = tmp_path_factory.mktemp("firstin-logs")
    with Stack(StackConfig(redis_url=firstin_redis.url, log_dir=log_dir)) as stack:
        yield stack


@pytest_asyncio.fixture
async def firstin(firstin_stack: Stack) -> AsyncIterator[FirstinClient]:
    """A client of the running stack: HTTP calls and buyer sockets, closed after the test."""
    client = FirstinClient(firstin_stack.api_url, firstin_stack.notifier_url, firstin_stack.config.admin_token)
    try:
        yield client
    finally:
        await client.aclose()
