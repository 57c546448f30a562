"""Helpers for fault tests: a private stack per test, a burst of orders from buyers with open sockets; and the
barrier that tells a test when no stray or duplicate event can still be on its way to a socket."""

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import httpx
import redis.asyncio as aioredis

from firstin_contracts import ProductKeys, issue_buyer_token
from firstin_stack import BuyerSocket, FirstinClient, Stack, unique_email, unique_sku
from firstin_stack.audit import SaleAudit, audit_sale

# A buyer session to pass a barrier: its email, its token, and the sockets connected with that token.
Listener = tuple[str, str, Sequence[BuyerSocket]]


async def barrier(client: FirstinClient, listeners: Sequence[Listener], timeout: float = 30.0) -> list[str]:
    """One order of a fresh product in each listener's session, and its final event awaited on each of its sockets.

    Call it once the events under test have arrived. When it returns, so has any event that what happened before
    could still send those sockets, a stray or a duplicate included: these orders are decided, and their decisions
    published, after every message published before they were placed, and the notifier relays its one Redis
    subscription in order (each message handled before the next is read) and writes each socket's events in the
    order it emitted them. A pending event it holds back for a moment is dropped once its order is decided, so
    none comes late for an order decided before. Replays are not on the subscription: the one on connect ends with
    `replayed`, which listen_for awaits, and a test whose notifier lost its subscription must await the catch-up
    replays' `replayed` first.

    Returns the barrier's order ids, in the order of `listeners`, for the test to leave out of what it checks.
    """
    sku = unique_sku("barrier")
    await client.create_product(sku, stock=len(listeners))

    async def one(email: str, token: str, sockets: Sequence[BuyerSocket]) -> str:
        response = await client.place_order(email, sku, token=token)
        assert response.status_code == 202, f"barrier order refused: {response.status_code} {response.text}"
        order_id: str = response.json()["order_id"]
        for socket in sockets:
            await socket.wait_for_final(order_id, timeout)
        return order_id

    return list(await asyncio.gather(*(one(*listener) for listener in listeners)))


@dataclass
class Sale:
    """Buyers with a socket each, and every order the api acknowledged with a 202."""

    client: FirstinClient
    stack: Stack
    sku: str
    sockets: dict[str, BuyerSocket] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # email -> its session token
    acknowledged: dict[str, str] = field(default_factory=dict)  # order id -> email
    refused_at_door: int = 0
    failed_requests: int = 0
    barrier_orders: set[str] = field(default_factory=set)  # orders placed by barrier(), not part of the sale

    async def open_buyers(self, count: int) -> list[str]:
        emails = [unique_email() for _ in range(count)]
        for email in emails:
            await self.connect(email)
        return emails

    async def connect(self, email: str) -> None:
        """(Re)connect the buyer's socket, as its page does after a drop."""
        if old := self.sockets.get(email):
            await old.close()
        # A session opened before the first order (what POST /sessions gives), so sockets are open in time;
        # signed directly rather than through the api so a test can reconnect while the api is down.
        if email not in self.tokens:
            self.tokens[email] = issue_buyer_token(email, secret=self.stack.config.token_secret, ttl_seconds=600)
        self.sockets[email] = await self.client.listen_for(self.tokens[email])

    async def place(self, email: str, quantity: int = 1) -> None:
        try:
            response = await self.client.place_order(email, self.sku, quantity, token=self.tokens.get(email))
        except httpx.TransportError:
            self.failed_requests += 1
            return
        if response.status_code == 202:
            self.acknowledged[response.json()["order_id"]] = email
        elif response.status_code == 409:
            self.refused_at_door += 1
        else:
            self.failed_requests += 1

    async def burst(self, emails: list[str], orders_each: int, concurrency: int = 50) -> None:
        """Every buyer places `orders_each` orders, at most `concurrency` requests in flight."""
        queue = [email for _ in range(orders_each) for email in emails]
        gate = asyncio.Semaphore(concurrency)

        async def one(email: str) -> None:
            async with gate:
                await self.place(email)

        await asyncio.gather(*(one(e) for e in queue))

    async def barrier(self) -> None:
        """barrier() on every buyer's socket: no event of the sale is still on its way to any of them."""
        listeners = [(email, self.tokens[email], [socket]) for email, socket in self.sockets.items()]
        self.barrier_orders.update(await barrier(self.client, listeners))

    def audit(self, redis_url: str) -> SaleAudit:
        """audit_sale of this sale, with every buyer's socket; the barrier's orders are not the sale's."""
        return audit_sale(
            redis_url,
            self.sku,
            accepted_orders=self.acknowledged,
            sockets=self.sockets,
            ignore_orders=self.barrier_orders,
        )

    async def wait_all_notified(self, timeout: float = 30.0) -> None:
        """Until every acknowledged order has a final event on its buyer's socket (or the timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            missing = [
                order_id
                for order_id, email in self.acknowledged.items()
                if not any(e["order_id"] == order_id for e in self.sockets[email].finals())
            ]
            if not missing:
                return
            await asyncio.sleep(0.1)


async def decided_count(redis_client: aioredis.Redis, sku: str) -> int:
    """Decisions taken on the product, in every sale round."""
    keys = ProductKeys(sku)
    current = int(await redis_client.hget(keys.product, "decided") or 0)
    closed = await redis_client.hgetall(keys.rounds)
    return current + sum(int(v) for k, v in closed.items() if k.endswith(b":decided"))


async def wait_until(predicate: Callable[[], Awaitable[bool]], timeout: float, what: str) -> float:
    """Poll until the predicate holds; returns the seconds it took."""
    started = time.monotonic()
    while not await predicate():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"not within {timeout}s: {what}")
        await asyncio.sleep(0.02)
    return time.monotonic() - started
