"""A real drop: every buyer opens a new socket right after its 202, with the token from it. Each must be told its
outcome exactly once, and nobody else's, also when hundreds connect in the same instant or right after Redis
restarted."""

import asyncio
import json
import time
from typing import Any
from urllib.parse import urlsplit

import pytest

from bench.http1 import Http1Pool
from bench.sio import BuyerConnection
from firstin_stack import BuyerSocket, FirstinClient, unique_email, unique_sku

from .conftest import StackFactory

pytestmark = pytest.mark.slow


class StormBuyer:
    """One buyer of the storm: its 202, and the socket it opened right after it."""

    def __init__(self, order: dict[str, Any]):
        self.order = order
        self.socket: BuyerSocket | BuyerConnection | None = None

    def events(self) -> list[dict[str, Any]]:
        if isinstance(self.socket, BuyerConnection):
            return [e for _, e in self.socket.events]
        return self.socket.events if self.socket is not None else []

    def finals(self) -> list[dict[str, Any]]:
        return [e for e in self.events() if e["status"] in ("accepted", "rejected")]

    def replays(self) -> list[dict[str, Any]]:
        if isinstance(self.socket, BuyerConnection):
            return self.socket.replayed
        return self.socket.replays if self.socket is not None else []


async def _until_everyone_replayed_and_told(buyers: list[StormBuyer], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        untold = [b.order["order_id"] for b in buyers if not (b.finals() and b.replays())]
        if not untold:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(untold)} of {len(buyers)} buyers never told, e.g. {untold[:3]}")
        await asyncio.sleep(0.05)


def _assert_each_told_its_own_outcome_once(buyers: list[StormBuyer]) -> None:
    for buyer in buyers:
        assert {e["order_id"] for e in buyer.events()} == {buyer.order["order_id"]}, "nobody else's order"
        finals = buyer.finals()
        assert len(finals) == 1, f"told {len(finals)} times: {finals}"


async def test_a_storm_of_new_sockets_tells_every_buyer_its_own_outcome_once(firstin: FirstinClient) -> None:
    """2,200 buyers, 200 between "Buy" and an open socket at any moment, as fast as the client goes. The client is
    the benchmark's lean one (bench.http1, bench.sio: the same wire protocol as a browser), so the connects
    arrive faster than one notifier process serves them; every tenth buyer uses python-socketio's client."""
    sku, stock, count = unique_sku("storm"), 2_000, 2_200
    await firstin.create_product(sku, stock=stock)
    api = urlsplit(firstin.api_url)
    assert api.hostname is not None and api.port is not None
    http = Http1Pool(api.hostname, api.port, size=200, timeout=30)
    gate = asyncio.Semaphore(200)
    buyers: list[StormBuyer] = []
    refused_at_door = 0

    async def buy(i: int) -> None:
        nonlocal refused_at_door
        body = json.dumps({"email": unique_email("storm"), "sku": sku}).encode()
        async with gate:
            status, raw = await http.post("/orders", body, {"Content-Type": "application/json"})
            if status == 409:
                refused_at_door += 1
                return
            assert status == 202, raw
            buyer = StormBuyer(json.loads(raw))
            buyers.append(buyer)
            # As the README's page does: the socket opens right after the 202, with the token from it.
            if i % 10 == 0:
                buyer.socket = await firstin.listen_for(buyer.order["token"], replayed=False, timeout=30)
            else:
                buyer.socket = BuyerConnection(i)
                await buyer.socket.connect(firstin.notifier_url, buyer.order["token"], timeout=30)

    started = time.monotonic()
    try:
        await asyncio.gather(*(buy(i) for i in range(count)))
        connected_in = time.monotonic() - started
        await _until_everyone_replayed_and_told(buyers, timeout=30)
        # A duplicate would be a replay racing a live event: both have come by the time `replayed` has.
        _assert_each_told_its_own_outcome_once(buyers)
    finally:
        http.close()
        await asyncio.gather(*(b.socket.close() for b in buyers if isinstance(b.socket, BuyerConnection)))

    assert len(buyers) >= stock, f"{len(buyers)} buyers got in line ({refused_at_door} refused at the door)"
    assert len(buyers) + refused_at_door == count
    assert sum(1 for b in buyers if b.finals()[0]["status"] == "accepted") == stock
    print(f"{len(buyers)} new sockets, each opened after its 202, all told, in {connected_in:.1f} s")


async def test_sockets_that_connect_during_and_right_after_a_redis_restart_are_all_replayed(
    private_stack: StackFactory, client_of
) -> None:
    server, stack = private_stack(appendonly=True)
    client = client_of(stack)
    sku = unique_sku("restart")
    await client.create_product(sku, stock=30)
    orders = [(await client.place_order(unique_email(), sku)).json() for _ in range(30)]
    records = await client.wait_until_decided([o["order_id"] for o in orders])
    assert {r["status"] for r in records} == {"accepted"}
    # Warm the notifier's Redis connections, so the restart leaves dead ones behind in its pool.
    warm = await asyncio.gather(*(client.listen_for(o["token"]) for o in orders[:20]))
    await asyncio.gather(*(s.close() for s in warm))

    server.stop()  # SIGTERM: Redis writes its AOF out before it exits, so the records survive the restart
    # Ten buyers connect while Redis is away: their token is checked without Redis, their replay waits.
    during = await asyncio.gather(*(client.listen_for(o["token"], replayed=False) for o in orders[:10]))
    server.start()
    # Twenty more connect at once as soon as Redis answers again.
    after = await asyncio.gather(*(client.listen_for(o["token"], replayed=False, timeout=30) for o in orders[10:]))

    buyers = [StormBuyer(order) for order in orders]
    for buyer, socket in zip(buyers, [*during, *after], strict=True):
        buyer.socket = socket
    await _until_everyone_replayed_and_told(buyers, timeout=30)
    _assert_each_told_its_own_outcome_once(buyers)
    assert all(buyer.finals()[0]["status"] == "accepted" for buyer in buyers)
