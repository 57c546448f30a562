"""Scaling out (several notifiers), abuse limits across api workers, and clean shutdown on SIGTERM."""

import asyncio
import signal
import uuid

import httpx
import pytest
import redis.asyncio as aioredis
import socketio

from firstin_contracts import ProductKeys
from firstin_stack import FirstinClient, Stack, unique_email, unique_sku

from .conftest import StackFactory
from .sale import Sale, barrier, decided_count, wait_until

pytestmark = pytest.mark.slow


async def test_two_notifiers_deliver_each_event_once_to_every_socket(private_stack: StackFactory, client_of) -> None:
    server, stack = private_stack()
    second = stack.add_notifier()
    second.wait_ready()
    client = client_of(stack)
    other = FirstinClient(stack.api_url, second.url, stack.config.admin_token)
    sku = unique_sku("replicas")
    await client.create_product(sku, stock=30)
    sale = Sale(client, stack, sku)
    emails = [unique_email() for _ in range(40)]
    for i, email in enumerate(emails):
        # Half the buyers on each replica; one buyer has a tab on each.
        sale.tokens[email] = await client.open_session(email)
        sale.sockets[email] = await (client if i % 2 else other).listen_for(sale.tokens[email])
    second_tab = await other.listen_for(sale.tokens[emails[1]])

    await sale.burst(emails, orders_each=1)
    await sale.wait_all_notified()
    # Sound: each notifier relays its subscription in order, so a socket's barrier event comes after any duplicate.
    tabs = {email: [socket] for email, socket in sale.sockets.items()}
    tabs[emails[1]].append(second_tab)
    sale.barrier_orders.update(await barrier(client, [(email, sale.tokens[email], tabs[email]) for email in emails]))

    audit = sale.audit(server.url)
    audit.assert_correct()
    assert audit.accepted == 30
    tab_finals = [e["order_id"] for e in second_tab.finals()]
    assert tab_finals == [e["order_id"] for e in sale.sockets[emails[1]].finals()], "both tabs, once each"
    await other.aclose()
    second.stop()


async def test_abuse_limits_hold_across_api_workers(tmp_path, client_of) -> None:
    from firstin_stack import RedisServer, Stack, StackConfig

    with RedisServer() as server:
        config = StackConfig(
            redis_url=server.url,
            log_dir=tmp_path,
            rate_limits=True,
            extra_env={"FIRSTIN_RATE_LIMIT_PER_EMAIL": "3", "FIRSTIN_RATE_LIMIT_PER_IP": "8"},
        )
        with Stack(config) as stack:
            client = client_of(stack)
            sku = unique_sku("limits")
            await client.create_product(sku, stock=100)
            email = unique_email()
            # Two api workers answer these; the counters live in Redis, so the limit holds across both.
            statuses = [(await client.place_order(email, sku)).status_code for _ in range(5)]
            assert statuses == [202, 202, 202, 429, 429]
            limited = await client.place_order(email, sku)
            assert limited.status_code == 429 and 0 < int(limited.headers["retry-after"]) <= 60
            sessions = [
                (await client.http.post("/sessions", json={"email": unique_email()})).status_code for _ in range(4)
            ]
            assert sessions[-1] == 429, "per-IP limit covers /sessions too"


# Orders held inside the api when it is told to stop, and how long Redis holds them there. Time itself is what the
# hold is for: uvicorn waits 0.1 s before it applies its graceful timeout, so only requests still unanswered well
# after that tell a graceful shutdown from one cut short.
HELD_ORDERS = 40
HOLD_MS = 6000


async def _order(
    client: FirstinClient, email: str, sku: str, token: str, key: str | None = None
) -> httpx.Response | None:
    """POST /orders; None when the connection failed or closed without an answer."""
    try:
        return await client.place_order(email, sku, token=token, idempotency_key=key)
    except httpx.TransportError:
        return None


async def _held_at_redis(redis: aioredis.Redis, count: int) -> bool:
    """At least `count` clients wait on a postponed SET: the Idempotency-Key claims of requests the api has read."""
    return sum(1 for c in await redis.client_list() if "b" in c["flags"] and c["cmd"] == "set") >= count


async def _shutting_down(stack: Stack, stopping: asyncio.Task[int | None]) -> bool:
    """Every api worker has begun its shutdown (or the api is already gone)."""
    shutdowns = stack.api.tail_log(1_000_000).count('"message": "Shutting down"')
    return shutdowns >= stack.config.api_workers or stopping.done()


async def _decided(redis: aioredis.Redis, sku: str, count: int) -> bool:
    return await decided_count(redis, sku) >= count


async def test_api_sigterm_finishes_in_flight_orders(private_stack: StackFactory, client_of) -> None:
    # A Redis timeout well past the hold, and connections enough for every held request in one worker.
    server, stack = private_stack(FIRSTIN_REDIS_TIMEOUT_SECONDS="10", FIRSTIN_REDIS_MAX_CONNECTIONS="64")
    redis = aioredis.Redis.from_url(server.url)
    client = client_of(stack)
    sku = unique_sku("sigterm")
    await client.create_product(sku, stock=5000)
    sale = Sale(client, stack, sku)
    emails = await sale.open_buyers(HELD_ORDERS // 2)
    await sale.burst(emails, orders_each=2)
    assert len(sale.acknowledged) == HELD_ORDERS, "orders flow before the stop"

    # Redis postpones every write for HOLD_MS, so the next orders wait on it inside the api. Each carries an
    # Idempotency-Key, whose claim is a write of its own (orders without one reach Redis in groups): Redis shows
    # every one of them waiting, which proves that the api has read them all before it is told to stop.
    await redis.execute_command("CLIENT", "PAUSE", HOLD_MS, "WRITE")
    buyers = emails * 2
    held = [
        asyncio.create_task(_order(client, email, sku, sale.tokens[email], key=uuid.uuid4().hex)) for email in buyers
    ]
    await wait_until(lambda: _held_at_redis(redis, HELD_ORDERS), HOLD_MS / 3000, f"{HELD_ORDERS} orders held")
    stopping = asyncio.create_task(asyncio.to_thread(stack.api.stop))
    await wait_until(lambda: _shutting_down(stack, stopping), 10, "every api worker shutting down")
    # On a connection of its own, so that it cannot ride on one the api was already serving.
    late = asyncio.create_task(_order(client_of(stack), emails[0], sku, sale.tokens[emails[0]]))
    code = await stopping
    answers = await asyncio.gather(*held)

    assert code in (0, -signal.SIGTERM)
    # Graceful: every request the api had read is finished and answered. Cut short, it loses its 202, and may
    # leave an order queued that no buyer was told of.
    statuses = [answer.status_code if answer is not None else None for answer in answers]
    assert statuses == [202] * HELD_ORDERS, f"orders in flight at the SIGTERM answered {statuses}"
    held_ids = [answer.json()["order_id"] for answer in answers if answer is not None]
    log = stack.api.tail_log(1_000_000)
    began = log.rindex('"message": "Shutting down"')
    assert all(log.find(order_id) > began for order_id in held_ids), "still held once every worker was stopping"
    assert await late is None, "a request sent once the api was shutting down was taken"
    assert log.count("Application shutdown complete") == stack.config.api_workers, "every worker shut down"

    sale.acknowledged.update(zip(held_ids, buyers, strict=True))
    queued = {key.decode() for key in await redis.hkeys(ProductKeys(sku).orders)}
    assert queued == set(sale.acknowledged), f"{len(queued - set(sale.acknowledged))} queued without a 202"
    await wait_until(lambda: _decided(redis, sku, len(sale.acknowledged)), 30, "every order decided")
    await sale.wait_all_notified()
    audit = sale.audit(server.url)
    assert (audit.lost, audit.pending, audit.missing_notifications) == (0, 0, 0), audit
    assert audit.accepted == 2 * HELD_ORDERS
    await redis.aclose()


async def _heard(events: list[object]) -> bool:
    return bool(events)


async def test_notifier_sigterm_tells_clients_then_closes_for_reconnect(private_stack: StackFactory) -> None:
    _server, stack = private_stack()
    notices: list[object] = []
    reasons: list[object] = []
    client = socketio.AsyncClient(reconnection=False)
    client.on("server_shutdown", notices.append)
    client.on("disconnect", reasons.append)
    from firstin_contracts import issue_buyer_token

    token = issue_buyer_token(unique_email(), secret=stack.config.token_secret, ttl_seconds=60)
    await client.connect(stack.notifier_url, auth={"token": token}, transports=["websocket"])

    code = await asyncio.to_thread(stack.notifier.stop)
    await wait_until(lambda: _heard(reasons), 10, "the disconnect")
    # The client handles each event in a task of its own, so the notice sent before the close may be handled after it.
    await wait_until(lambda: _heard(notices), 10, "the shutdown notice")

    assert code in (0, -signal.SIGTERM)
    assert notices == [{"reason": "server restarting, reconnect"}]
    assert reasons and reasons[0] != "io server disconnect", "a transport close, which clients retry"
    assert "Application shutdown complete" in stack.notifier.tail_log()


@pytest.mark.parametrize("trusted", ["", "127.0.0.1/32"])
async def test_the_per_ip_limit_believes_forwarded_addresses_from_trusted_proxies_only(
    tmp_path, client_of, trusted: str
) -> None:
    from firstin_stack import RedisServer, Stack, StackConfig

    with RedisServer() as server:
        env = {
            "FIRSTIN_RATE_LIMIT_PER_IP": "5",
            "FIRSTIN_RATE_LIMIT_PER_EMAIL": "0",
            "FIRSTIN_TRUSTED_PROXIES": trusted,
        }
        config = StackConfig(redis_url=server.url, log_dir=tmp_path, rate_limits=True, extra_env=env)
        with Stack(config) as stack:
            client = client_of(stack)
            sku = unique_sku("proxies")
            await client.create_product(sku, stock=100)
            statuses = []
            for i in range(8):  # each request claims another client address
                response = await client.http.post(
                    "/orders", json={"email": unique_email(), "sku": sku}, headers={"X-Forwarded-For": f"203.0.113.{i}"}
                )
                statuses.append(response.status_code)
    if trusted:  # the proxy (loopback here) is believed: eight clients, one order each
        assert statuses == [202] * 8
    else:  # nobody is believed: one client (loopback), over its limit of 5
        assert statuses == [202] * 5 + [429] * 3


async def test_a_stranger_naming_a_buyers_email_cannot_lock_the_buyers_session_out(tmp_path, client_of) -> None:
    from firstin_stack import RedisServer, Stack, StackConfig

    with RedisServer() as server:
        env = {"FIRSTIN_RATE_LIMIT_PER_EMAIL": "3", "FIRSTIN_RATE_LIMIT_PER_IP": "0"}
        config = StackConfig(redis_url=server.url, log_dir=tmp_path, rate_limits=True, extra_env=env)
        with Stack(config) as stack:
            client = client_of(stack)
            sku = unique_sku("lockout")
            await client.create_product(sku, stock=100)
            victim = unique_email("victim")
            token = await client.open_session(victim)  # the buyer's page: 1 of the email's 3 a minute
            strangers = [(await client.http.post("/sessions", json={"email": victim})).status_code for _ in range(5)]
            assert strangers == [201, 201, 429, 429, 429], "the email's limit is used up by strangers"

            assert (await client.place_order(victim, sku)).status_code == 429, "anonymous: the email's limit"
            with_token = [(await client.place_order(victim, sku, token=token)).status_code for _ in range(4)]
            assert with_token == [202, 202, 202, 429], "the buyer's session has a limit of its own"
