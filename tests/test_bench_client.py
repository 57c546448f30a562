"""The benchmark's lean HTTP/1.1 client against the real api: every answer reaches the right caller, connections
are kept alive and shared, and a dead connection is replaced rather than failing the next request."""

import asyncio
import json
from urllib.parse import urlsplit

import jwt
import pytest

from bench.http1 import Http1Pool
from bench.sio import BuyerConnection, SocketRefused
from firstin_stack import FirstinClient, unique_email, unique_sku


def _pool(api_url: str, size: int) -> Http1Pool:
    url = urlsplit(api_url)
    assert url.hostname is not None and url.port is not None
    return Http1Pool(url.hostname, url.port, size=size, timeout=10)


async def test_concurrent_posts_beyond_the_pool_size_each_get_their_own_answer(firstin: FirstinClient) -> None:
    sku = unique_sku("h1")
    await firstin.create_product(sku, stock=100)
    pool = _pool(firstin.api_url, size=4)
    emails = [unique_email() for _ in range(40)]
    bodies = [json.dumps({"email": e, "sku": sku, "quantity": 1}).encode() for e in emails]
    try:
        answers = await asyncio.gather(
            *(pool.post("/orders", body, {"Content-Type": "application/json"}) for body in bodies)
        )
    finally:
        pool.close()
    assert [status for status, _ in answers] == [202] * 40
    assert pool._open <= 4, "never more connections than the pool's size"
    for email, (_, raw) in zip(emails, answers, strict=True):  # each answer's token names its request's email
        claims = jwt.decode(json.loads(raw)["token"], options={"verify_signature": False})
        assert claims["sub"] == email, "each caller got the answer to its own request"


async def test_a_connection_closed_by_the_server_is_replaced(firstin: FirstinClient) -> None:
    pool = _pool(firstin.api_url, size=1)
    try:
        status, _ = await pool.post("/orders", b"{}", {"Content-Type": "application/json"})
        assert status == 422
        (connection,) = pool._idle
        assert connection.transport is not None
        connection.transport.close()  # as the server does after its keep-alive timeout
        async with asyncio.timeout(5):  # until connection_lost marks it dead, long before a later request would come
            while connection.alive:  # noqa: ASYNC110  (a protocol callback sets it: there is nothing to await)
                await asyncio.sleep(0.01)
        status, raw = await pool.post("/orders", b"not json", {"Content-Type": "application/json"})
        assert status == 422 and b"detail" in raw
    finally:
        pool.close()


async def test_the_lean_socket_client_hears_its_order_and_the_end_of_the_replay(firstin: FirstinClient) -> None:
    sku = unique_sku("sio")
    await firstin.create_product(sku, stock=1)
    order = (await firstin.place_order(unique_email(), sku)).json()
    await firstin.wait_until_decided([order["order_id"]])
    socket = BuyerConnection(0)
    await socket.connect(firstin.notifier_url, order["token"], timeout=10)
    try:
        async with asyncio.timeout(10):
            while not socket.replayed:  # noqa: ASYNC110  (the client keeps no event: it is read by polling)
                await asyncio.sleep(0.01)
        assert [e["order_id"] for _, e in socket.events] == [order["order_id"]]
        assert socket.events[0][1]["status"] == "accepted"
        assert socket.replayed == [{"orders": 1}]
        assert socket.connected
    finally:
        await socket.close()


async def test_the_lean_socket_client_reports_a_refusal(firstin: FirstinClient) -> None:
    socket = BuyerConnection(0)
    with pytest.raises(SocketRefused, match="invalid token"):
        await socket.connect(firstin.notifier_url, "not.a.token", timeout=10)
