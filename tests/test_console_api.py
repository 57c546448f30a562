"""What the admin console reads besides products and rounds, through real processes: each service's health as
the services themselves keep it in Redis (heartbeats: processors and the products they decide, notifiers and their
sockets), the door's refusals as the api counts them, and a product's dead letters with their reasons."""

from typing import Any

import redis.asyncio as aioredis

from firstin_contracts import ProductKeys
from firstin_stack import FirstinClient, unique_email, unique_sku

from .conftest import StackFactory
from .sale import wait_until


async def _health(client: FirstinClient) -> dict[str, Any]:
    health: dict[str, Any] = await client.admin_get("/admin/health")
    return health


async def test_health_shows_each_service_as_it_reports_itself(private_stack: StackFactory, client_of) -> None:
    server, stack = private_stack(FIRSTIN_LEASE_TTL_SECONDS="30")  # the lease outlives the test's empty line
    client: FirstinClient = client_of(stack)
    assert (await client.http.get("/admin/health")).status_code == 401
    sku = unique_sku("health")
    await client.create_product(sku, stock=1)
    email = unique_email()
    socket = await client.listen_for(await client.open_session(email))
    visitor = await client.listen_for(None, watch=sku)  # a visitor watching the product, without a token
    first = await client.place_order(email, sku)
    await client.wait_until_decided([first.json()["order_id"]])
    assert (await client.place_order(unique_email(), sku)).status_code == 409

    async def reported() -> bool:
        health = await _health(client)
        deciding = [p for p in health["processors"] if p["leases"] == 1]
        return bool(deciding) and any(n["sockets"] == 2 for n in health["notifiers"])

    # A heartbeat is up to two seconds old: it says what was so when it was written.
    await wait_until(reported, 10, "a processor deciding the product, and a notifier with both sockets")
    health = await _health(client)
    assert health["redis"]["ok"] is True and health["redis"]["latency_ms"] >= 0
    (processor,) = health["processors"]
    (notifier,) = health["notifiers"]
    assert processor["pid"] == stack.processor.pid
    assert notifier["pid"] == stack.notifier.pid and notifier["subscribed"] is True and notifier["sockets"] == 2
    assert health["door"]["sold_out"] >= 1
    async with aioredis.Redis.from_url(server.url) as redis:
        holder = await redis.get(ProductKeys(sku).lease)
    (listed,) = [p for p in await client.admin_get("/admin/products") if p["sku"] == sku]
    assert holder is not None and listed["decided_by"] == holder.decode() == processor["instance"]

    await socket.close()
    await visitor.close()
    await wait_until(lambda: _sockets(client, 0), 10, "the notifier reports the sockets gone")
    stack.notifier.stop()
    # At once, not when its record expires (three missed beats, 6 s).
    await wait_until(lambda: _notifiers(client, 0), 2, "a stopped notifier is gone from the health at once")
    server.stop()
    down = await _health(client)
    assert down["redis"]["ok"] is False and down["processors"] == [] == down["notifiers"]


async def _sockets(client: FirstinClient, count: int) -> bool:
    return [n["sockets"] for n in (await _health(client))["notifiers"]] == [count]


async def _notifiers(client: FirstinClient, count: int) -> bool:
    return len((await _health(client))["notifiers"]) == count


async def test_dead_letters_are_listed_newest_first_with_their_reason(
    firstin: FirstinClient, redis_client: aioredis.Redis
) -> None:
    sku = unique_sku("letters")
    await firstin.create_product(sku, stock=5)
    await redis_client.rpush(ProductKeys(sku).queue, b"not json", b'{"data": "{\\"order_id\\": 7}"}', b"\xff\xfe")
    placed = await firstin.place_order(unique_email(), sku)  # wakes the processor, decided after the poison
    await firstin.wait_until_decided([placed.json()["order_id"]])

    letters = await firstin.admin_get(f"/admin/products/{sku}/dead-letters", limit=2)
    assert letters["total"] == 3
    assert [(x["reason"], x["message"]) for x in letters["letters"]] == [
        ("undecodable", "fffe"),
        ("invalid_fields", '{"data": "{\\"order_id\\": 7}"}'),
    ]
    assert all(x["at"] is not None for x in letters["letters"])
    (listed,) = [p for p in await firstin.admin_get("/admin/products") if p["sku"] == sku]
    assert listed["dead_letters"] == 3
    unknown = await firstin.http.get(
        f"/admin/products/{unique_sku('none')}/dead-letters", headers={"Authorization": f"Bearer {firstin.admin_token}"}
    )
    assert unknown.status_code == 404
