"""Start firstin (a private Redis and the three services) for tests, demos and benchmarks."""

from firstin_stack.client import BuyerSocket, FirstinClient, unique_email, unique_sku
from firstin_stack.redis_server import RedisServer, find_redis_server, free_port
from firstin_stack.services import ServiceProcess, Stack, StackConfig

__all__ = [
    "BuyerSocket",
    "FirstinClient",
    "RedisServer",
    "ServiceProcess",
    "Stack",
    "StackConfig",
    "find_redis_server",
    "free_port",
    "unique_email",
    "unique_sku",
]
