"""Scaling out (several notifiers), abuse limits across api workers, and clean shutdown on SIGTERM."""

import asyncio
import signal
import time

import httpx
import pytest
import redis.asyncio as aioredis
import socketio

from firstin_contracts import ProductKeys
from firstin_stack import FirstinClient, unique_email, unique_sku

from .conftest import StackFactory
from .sale import Sale, barrier, wait_until


async def _answered_at_least(sent: list[tuple[float, int | None]], count: int) -> bool:
    return len(sent) >= count


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


async def test_api_sigterm_finishes_in_flight_orders(private_stack: StackFactory, client_of) -> None:
    server, stack = private_stack()
    redis = aioredis.Redis.from_url(server.url)
    client = client_of(stack)
    sku = unique_sku("sigterm")
    await client.create_product(sku, stock=5000)
    sale = Sale(client, stack, sku)
    emails = await sale.open_buyers(20)

    # Each request: when it was sent, and whether it got an answer (a status) or lost its connection (None).
    sent: list[tuple[float, int | None]] = []
    gate = asyncio.Semaphore(40)

    async def order(email: str) -> None:
        async with gate:
            began = time.monotonic()
            try:
                response = await client.place_order(email, sku, token=sale.tokens[email])
            except httpx.TransportError:
                sent.append((began, None))
                return
            sent.append((began, response.status_code))
            if response.status_code == 202:
                sale.acknowledged[response.json()["order_id"]] = email

    async def orders() -> None:
        await asyncio.gather(*(order(e) for _ in range(100) for e in emails))

    burst = asyncio.create_task(orders())
    await wait_until(lambda: _answered_at_least(sent, 200), 30, "the burst is under way")
    stopping = time.monotonic()
    code = await asyncio.to_thread(stack.api.stop)
    await burst

    assert code in (0, -signal.SIGTERM)
    # Graceful: a request the api had begun is finished and answered. Cut short, it could queue an order whose
    # 202 never left: a record in Redis that no buyer was told about.
    queued = {key.decode() for key in await redis.hkeys(ProductKeys(sku).orders)}
    assert queued == set(sale.acknowledged), f"{len(queued - set(sale.acknowledged))} queued without a 202"
    assert any(status is None for began, status in sent if began > stopping), "later ones were refused"
    log = stack.api.tail_log(200_000)
    assert log.count("Application shutdown complete") == stack.config.api_workers, "every worker shut down"
    assert sale.acknowledged, "orders were answered before the stop"
    await sale.wait_all_notified()
    assert all(sale.sockets[e].finals() for e in {sale.acknowledged[o] for o in sale.acknowledged})
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
