"""Placing an order: what the api decides about an order, apart from HTTP and Redis.

`place` gets the order and its collaborators: the line it joins (store.py on Redis), the door's last known state
(door.DoorCache) and the buyer tokens. It answers with what became of the order: `Queued`, or the `Refused` that
says why not. Redis stays the atomic truth (door.lua counts the request limits and reads the room in line,
enqueue.lua gives places in line); what can be decided before a round trip is decided here.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from firstin_api.buyer_tokens import BuyerTokens
from firstin_contracts import DEFAULT_SKU, BuyerSession, OrderRecord, new_session_id, order_id_for


@dataclass(frozen=True, slots=True)
class Order:
    """What a buyer asks for."""

    email: str
    sku: str = DEFAULT_SKU
    quantity: int = 1


@dataclass(frozen=True, slots=True)
class NewOrder:
    """An order on its way into line."""

    order_id: str
    sku: str
    email: str
    quantity: int
    session_id: str
    client_ip: str
    # Whether the request carried a valid token of `session_id`. Such a request counts against its session's
    # request limit, not its email's: anyone can name any email (POST /sessions, orders), so a stranger could
    # otherwise use up a buyer's limit and lock the buyer out. Anonymous requests keep the email's limit.
    session_presented: bool = False


@dataclass(frozen=True, slots=True)
class Queued:
    record: OrderRecord
    # The same Idempotency-Key again: the order queued by the first request, nothing new in line.
    replayed: bool = False
    token: str | None = None  # of the order's buyer session, for its sockets; None on a replay to a stranger


class Refused(Exception):
    """Why an order was not queued. An exception, so that a group commit can hand it to the order's submitter."""


class SoldOut(Refused):
    """The orders already in line cover the stock left."""


class UnknownProduct(Refused):
    pass


class LimitReached(Refused):
    """Too many requests from this IP or for this buyer in the current window."""

    def __init__(self, retry_after: int):
        super().__init__(f"request limit reached, retry after {retry_after}s")
        self.retry_after = retry_after


class KeyReused(Refused):
    """The Idempotency-Key was first used with another body."""


class Line(Protocol):
    """Where orders wait for their decision (store.OrderStore on Redis)."""

    async def join(self, order: NewOrder) -> OrderRecord:
        """The order's record once in line; raises the `Refused` of the door."""
        ...

    async def claim_key(self, key: str, order: Order, order_id: str) -> str:
        """The order id the buyer's key stands for: `order_id` if this claim is the first; raises KeyReused."""
        ...

    async def release_key(self, key: str, order: Order, order_id: str) -> None: ...

    async def get_order(self, order_id: str) -> OrderRecord | None: ...


class Door(Protocol):
    async def closed(self, sku: str) -> bool:
        """Whether the product's door was closed when last seen; possibly a little stale."""
        ...


async def place(
    order: Order,
    *,
    line: Line,
    door: Door,
    tokens: BuyerTokens,
    idempotency_key: str | None,
    authorization: str | None,
    client_ip: str,
    new_order_id: Callable[[str], str] = order_id_for,
) -> Queued | Refused:
    """Queue the order, or say why not. Errors of the line's store propagate."""
    # A replay must return its order even after the door closed, so only a request without a key is refused here.
    if idempotency_key is None and await door.closed(order.sku):
        return SoldOut(order.sku)
    presented = tokens.session_of(authorization, order.email)
    order_id = new_order_id(order.sku)
    if idempotency_key is not None:
        try:
            claimed_id = await line.claim_key(idempotency_key, order, order_id)
        except KeyReused as reused:
            return reused
        if claimed_id != order_id:
            if (first := await line.get_order(claimed_id)) is not None:
                return Queued(first, replayed=True, token=_replay_token(tokens, first, presented, authorization))
            # The first attempt with this key died before queueing: finish it under the same order id.
            order_id = claimed_id
    session_id = presented.session_id if presented is not None else new_session_id()
    new = NewOrder(order_id, order.sku, order.email, order.quantity, session_id, client_ip, presented is not None)
    try:
        record = await line.join(new)
    except Refused as refusal:
        if idempotency_key is not None:
            # Claimed only by an order that is queued: a refusal leaves the key free for the buyer's retry.
            await line.release_key(idempotency_key, order, order_id)
        return refusal
    return Queued(record, token=tokens.token_for(record.email, record.session_id, presented, authorization))


def _replay_token(
    tokens: BuyerTokens, record: OrderRecord, presented: BuyerSession | None, authorization: str | None
) -> str | None:
    """Repeating a buyer's email, sku and key proves nothing: the session's token goes only to a request that
    shows a token of that session."""
    if presented is None or presented.session_id != record.session_id:
        return None
    return tokens.token_for(record.email, record.session_id, presented, authorization)
