"""Fault injection with real processes: whatever dies mid-sale, every acknowledged order ends in exactly one
decision, stock is never oversold, decisions follow positions, and every buyer hears its outcome."""

import asyncio
import json
import signal

import httpx
import pytest
import redis.asyncio as aioredis

from firstin_contracts import ProductKeys
from firstin_stack import FirstinClient, Stack, unique_sku

from .conftest import StackFactory
from .sale import Sale, decided_count, wait_until

pytestmark = pytest.mark.slow


async def settle(sale: Sale, redis_client: aioredis.Redis, timeout: float = 60.0) -> None:
    """Wait until every acknowledged order is decided and its buyer notified, and no duplicate is still on its way."""
    await wait_until(lambda: _all_decided(redis_client, sale), timeout, f"{len(sale.acknowledged)} orders decided")
    await sale.wait_all_notified()
    # Sound: each socket's barrier event is relayed after anything the sale's decisions could still send it.
    await sale.barrier()


async def _acknowledged_at_least(sale: Sale, count: int, *, unless_done: asyncio.Task[None]) -> bool:
    """At least `count` orders acknowledged, or the burst is over (its door may have closed before that)."""
    return len(sale.acknowledged) >= count or unless_done.done()


async def _all_decided(redis_client: aioredis.Redis, sale: Sale) -> bool:
    return await decided_count(redis_client, sale.sku) >= len(sale.acknowledged)


async def start_sale(stack: Stack, client: FirstinClient, stock: int) -> Sale:
    sku = unique_sku("fault")
    await client.create_product(sku, stock=stock)
    return Sale(client, stack, sku)


async def test_processor_killed_mid_burst_loses_and_repeats_nothing(private_stack: StackFactory, client_of) -> None:
    # Small batches so the kill lands between decisions, with many orders still in line.
    server, stack = private_stack(FIRSTIN_DECIDE_BATCH_SIZE="10")
    client = client_of(stack)
    redis_client = aioredis.Redis.from_url(server.url)
    sale = await start_sale(stack, client, stock=1000)
    buyers = await sale.open_buyers(250)

    burst = asyncio.create_task(sale.burst(buyers, orders_each=20))
    await wait_until(lambda: _decided_at_least(redis_client, sale.sku, 300), 60, "300 decisions")
    stack.processor.kill()
    killed_at = await decided_count(redis_client, sale.sku)
    acknowledged_at_kill = len(sale.acknowledged)
    # Let the line grow while nobody decides, then bring the processor back.
    await wait_until(
        lambda: _acknowledged_at_least(sale, acknowledged_at_kill + 100, unless_done=burst),
        30,
        "orders queue meanwhile",
    )
    stack.processor.start()
    stack.processor.wait_ready()
    await burst
    await settle(sale, redis_client)

    audit = sale.audit(server.url)
    audit.assert_correct()
    assert 300 <= killed_at < len(sale.acknowledged), "the kill landed mid-burst"
    assert audit.accepted == 1000, "accepted equals stock exactly"
    assert audit.dead_letters == 0
    await redis_client.aclose()


async def _decided_at_least(redis_client: aioredis.Redis, sku: str, n: int) -> bool:
    return await decided_count(redis_client, sku) >= n


async def _lease_holders(*urls: str) -> list[str]:
    """Which of these processors report holding a product's lease (the test sells one product)."""
    holders = []
    async with httpx.AsyncClient() as http:
        for url in urls:
            text = (await http.get(f"{url}/metrics")).text
            if "firstin_processor_leases_held 1.0" in text:
                holders.append(url)
    return holders


async def test_two_processors_one_product_one_decides_and_the_other_takes_over(
    private_stack: StackFactory, client_of
) -> None:
    server, stack = private_stack(FIRSTIN_DECIDE_BATCH_SIZE="10", FIRSTIN_LEASE_TTL_SECONDS="1.5")
    second = stack.add_processor()
    second.wait_ready()
    client = client_of(stack)
    redis_client = aioredis.Redis.from_url(server.url)
    sale = await start_sale(stack, client, stock=500)
    buyers = await sale.open_buyers(100)

    burst = asyncio.create_task(sale.burst(buyers, orders_each=20))
    await wait_until(lambda: _decided_at_least(redis_client, sale.sku, 200), 60, "200 decisions")
    await wait_until(lambda: _one_holder(stack.processor.url, second.url), 10, "one processor holds the lease")
    (holder_url,) = await _lease_holders(stack.processor.url, second.url)
    holder, standby = (stack.processor, second) if holder_url == stack.processor.url else (second, stack.processor)
    holder.kill()
    before = await decided_count(redis_client, sale.sku)
    takeover = await wait_until(lambda: _decided_at_least(redis_client, sale.sku, before + 1), 10, "standby decides")
    assert await _lease_holders(standby.url) == [standby.url]
    await burst
    await settle(sale, redis_client)

    audit = sale.audit(server.url)
    audit.assert_correct()
    assert audit.accepted == 500
    assert takeover < 5, f"standby took {takeover:.1f}s to take over"
    second.stop()
    await redis_client.aclose()


async def _one_holder(*urls: str) -> bool:
    return len(await _lease_holders(*urls)) == 1


async def _skus_decided_by(url: str) -> set[str]:
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"{url}/metrics")).text
    return {
        line.split('sku="', 1)[1].split('"', 1)[0]
        for line in text.splitlines()
        if line.startswith("firstin_processor_decisions_total{") and not line.endswith(" 0.0")
    }


async def test_processors_share_a_campaigns_products_and_each_sale_stays_correct(
    private_stack: StackFactory, client_of
) -> None:
    server, stack = private_stack(FIRSTIN_DECIDE_BATCH_SIZE="10")
    second = stack.add_processor()
    second.wait_ready()
    client = client_of(stack)
    redis_client = aioredis.Redis.from_url(server.url)
    sales = [await start_sale(stack, client, stock=30) for _ in range(4)]
    buyers = [await sale.open_buyers(10) for sale in sales]
    await asyncio.gather(*(sale.burst(b, orders_each=5, concurrency=10) for sale, b in zip(sales, buyers, strict=True)))
    for sale in sales:
        await settle(sale, redis_client)
        audit = sale.audit(server.url)
        audit.assert_correct()
        assert audit.accepted == 30
    skus = {sale.sku for sale in sales}  # the sale's barrier uses products of its own
    by_first, by_second = skus & await _skus_decided_by(stack.processor.url), skus & await _skus_decided_by(second.url)
    assert by_first | by_second == skus
    assert by_first and by_second, f"one processor decided every product: {by_first or by_second}"
    second.stop()
    await redis_client.aclose()


async def test_api_killed_under_load_leaves_no_half_created_order(private_stack: StackFactory, client_of) -> None:
    server, stack = private_stack()
    client = client_of(stack)
    redis_client = aioredis.Redis.from_url(server.url)
    sale = await start_sale(stack, client, stock=3000)
    buyers = await sale.open_buyers(100)

    burst = asyncio.create_task(sale.burst(buyers, orders_each=30, concurrency=100))
    await wait_until(lambda: _decided_at_least(redis_client, sale.sku, 500), 60, "500 decisions")
    stack.api.kill()  # SIGKILL to the whole process group: the uvicorn parent and every worker
    await burst
    stack.api.start()
    stack.api.wait_ready()
    # Orders created by requests that died with the api have a record and a decision too.
    await wait_until(lambda: _none_pending(redis_client, sale.sku), 30, "nothing pending")
    await settle(sale, redis_client)

    audit = sale.audit(server.url)
    audit.assert_correct()
    assert sale.failed_requests > 0, "the kill landed while requests were in flight"
    assert audit.dead_letters == 0, "every queued message had its record"
    assert audit.accepted + audit.rejected >= len(sale.acknowledged)
    await redis_client.aclose()


async def _none_pending(redis_client: aioredis.Redis, sku: str) -> bool:
    product = await redis_client.hgetall(ProductKeys(sku).product)
    return product[b"decided"] == product[b"last_position"] and int(product[b"pending_qty"]) == 0


async def test_outcomes_decided_while_the_notifier_was_down_arrive_on_reconnect(
    private_stack: StackFactory, client_of
) -> None:
    server, stack = private_stack()
    client = client_of(stack)
    redis_client = aioredis.Redis.from_url(server.url)
    sale = await start_sale(stack, client, stock=20)
    buyers = await sale.open_buyers(40)
    stack.notifier.kill()
    await sale.burst(buyers, orders_each=1)
    await wait_until(lambda: _all_decided(redis_client, sale), 30, "all decided")

    stack.notifier.start()
    stack.notifier.wait_ready()
    for email in buyers:  # the buyers' pages reconnect
        await sale.connect(email)
    await settle(sale, redis_client)

    audit = sale.audit(server.url)
    audit.assert_correct()
    assert audit.accepted == 20
    assert audit.accepted + audit.rejected == len(sale.acknowledged)
    await redis_client.aclose()


async def test_a_reset_closes_a_long_line_promptly_and_everyone_hears(private_stack: StackFactory, client_of) -> None:
    server, stack = private_stack()
    client = client_of(stack)
    redis_client = aioredis.Redis.from_url(server.url)
    sale = await start_sale(stack, client, stock=300)
    buyers = await sale.open_buyers(150)
    # SIGTERM: uvicorn runs the app's shutdown, then re-raises the signal, hence -15 rather than 0.
    assert stack.processor.stop() == -signal.SIGTERM
    assert "Application shutdown complete" in stack.processor.tail_log()
    await sale.burst(buyers, orders_each=2)  # nothing is decided meanwhile: 300 wait in line
    assert len(sale.acknowledged) == 300
    closed = set(sale.acknowledged)
    # The campaign starts again with 10 items: a new round; the 300 waiting belong to the closed one.
    assert (await client.create_product(sale.sku, stock=10))["round"] == 2
    for email in buyers[:12]:  # one at a time: the new round's line covers its stock after 10, then 409s
        await sale.place(email)
    assert (len(sale.acknowledged), sale.refused_at_door) == (310, 2)

    stack.processor.start()
    drained = await wait_until(lambda: _all_decided(redis_client, sale), 30, "line drained")
    await settle(sale, redis_client)

    audit = sale.audit(server.url)
    audit.assert_correct()
    assert (audit.accepted, audit.rejected) == (10, 300)
    records = await client.wait_until_decided(list(closed))
    assert {(r["round"], r["reason"]) for r in records} == {(1, "round_closed")}
    assert drained < 10
    assert (await client.place_order(buyers[0], sale.sku)).status_code == 409, "the new round is sold out"
    await redis_client.aclose()


async def _ready(url: str) -> bool:
    async with httpx.AsyncClient(timeout=2) as http:
        try:
            return (await http.get(f"{url}/readyz")).status_code == 200
        except httpx.TransportError:
            return False


async def _all_ready(stack: Stack) -> bool:
    return all([await _ready(s.url) for s in stack.services])


async def _none_ready(stack: Stack) -> bool:
    return not any([await _ready(s.url) for s in stack.services])


async def _caught_up(sale: Sale) -> bool:
    return all(len(socket.replays) >= 2 for socket in sale.sockets.values())


async def test_redis_restart_services_recover_without_a_restart(private_stack: StackFactory, client_of) -> None:
    server, stack = private_stack(appendonly=True)
    client = client_of(stack)
    sale = await start_sale(stack, client, stock=100)
    buyers = await sale.open_buyers(20)
    await sale.burst(buyers, orders_each=2)
    before = dict(sale.acknowledged)
    # With appendfsync everysec Redis syncs the AOF about once a second and tells no client when (7.0 has no
    # WAITAOF). An AOF rewrite writes the whole dataset and syncs it before it completes: once it has, everything
    # acknowledged so far is on disk, whatever the machine's load.
    async with aioredis.Redis.from_url(server.url) as before_kill:
        await before_kill.bgrewriteaof()
        await wait_until(lambda: _aof_rewritten(before_kill), 30, "the AOF rewritten and synced")

    server.kill()  # SIGKILL: only what AOF fsynced survives
    await wait_until(lambda: _none_ready(stack), 10, "every readyz turns red")
    started = asyncio.get_running_loop().time()
    response = await client.place_order(buyers[0], sale.sku)
    answered_in = asyncio.get_running_loop().time() - started
    assert response.status_code == 503 and response.headers["retry-after"].isdigit()
    assert answered_in < 5, "no hang while Redis is away"
    assert (await client.http.get(f"/orders/{next(iter(before))}")).status_code == 503

    server.start()  # same port, same data folder: AOF replays
    recovered = await wait_until(lambda: _all_ready(stack), 30, "every readyz turns green again")
    # Back on its subscription, the notifier replays every socket's orders (its catch-up). Replays are not on the
    # subscription that settle()'s barrier orders itself by: their end, each socket's second `replayed`, is awaited.
    await wait_until(lambda: _caught_up(sale), 30, "every socket's catch-up replay")
    await sale.burst(buyers, orders_each=1)  # new orders flow end to end, events included
    async with aioredis.Redis.from_url(server.url) as redis_client:
        await settle(sale, redis_client)

    audit = sale.audit(server.url)
    audit.assert_correct()
    assert audit.accepted == len(before) + len(buyers), "nothing acknowledged before the last fsync was lost"
    assert recovered < 30


async def _aof_rewritten(redis: aioredis.Redis) -> bool:
    info = await redis.info("persistence")
    return (
        info["aof_rewrite_in_progress"] == 0
        and info["aof_rewrite_scheduled"] == 0
        and info["aof_last_bgrewrite_status"] == "ok"
    )


async def test_hostile_messages_are_dead_lettered_counted_and_passed(private_stack: StackFactory, client_of) -> None:
    server, stack = private_stack()
    client = client_of(stack)
    redis_client = aioredis.Redis.from_url(server.url)
    sale = await start_sale(stack, client, stock=10)
    keys = ProductKeys(sale.sku)
    buyers = await sale.open_buyers(3)
    await sale.place(buyers[0])
    await settle(sale, redis_client)
    (decided_id,) = sale.acknowledged

    def order(**fields: object) -> bytes:
        body = {"schema_version": 1, "order_id": decided_id, "sku": sale.sku, "email": buyers[0], "quantity": 1}
        return json.dumps({"data": json.dumps({**body, **fields}), "headers": {}}).encode()

    hostile = {
        "undecodable": b"\xff\xfe garbage",
        "oversized": b"{" + b" " * 10_000 + b"}",
        "wrong_sku": order(sku="some-other-product"),
        "invalid_quantity": order(quantity=-2),
        "invalid_fields": order(email=None),
        "unknown_order": order(order_id=f"{sale.sku}.{'0' * 32}"),
        "already_decided": order(),  # a duplicate of an order id already decided
    }
    await redis_client.rpush(keys.queue, *hostile.values())
    await sale.place(buyers[1])
    await settle(sale, redis_client)

    audit = sale.audit(server.url)
    audit.assert_correct()
    assert audit.accepted == 2, "the line moved on past every hostile message"
    assert audit.dead_letter_reasons == dict.fromkeys(hostile, 1)
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(f"{stack.processor.url}/metrics")).text
    for reason in hostile:
        assert f'firstin_processor_dead_letters_total{{reason="{reason}",sku="{sale.sku}"}} 1.0' in metrics
    await redis_client.aclose()
