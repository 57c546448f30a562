"""Placing an order, with a line and a door in memory: no Redis, no HTTP."""

import itertools

import pytest

from firstin_api.buyer_tokens import BuyerTokens
from firstin_api.placing import (
    KeyReused,
    LimitReached,
    NewOrder,
    Order,
    Queued,
    Refused,
    SoldOut,
    UnknownProduct,
    place,
)
from firstin_contracts import OrderRecord, OrderStatus, issue_buyer_token

SECRET = "s" * 40
TTL = 3600


class FakeLine:
    """The line of store.OrderStore, in memory: every order joins unless `refusal` is set."""

    def __init__(self, refusal: Refused | None = None) -> None:
        self.refusal = refusal
        self.joined: list[NewOrder] = []
        self.records: dict[str, OrderRecord] = {}
        self.claims: dict[tuple[str, str, str], tuple[str, Order]] = {}

    async def join(self, order: NewOrder) -> OrderRecord:
        if self.refusal is not None:
            raise self.refusal
        self.joined.append(order)
        record = OrderRecord(
            order_id=order.order_id,
            sku=order.sku,
            email=order.email,
            session_id=order.session_id,
            quantity=order.quantity,
            position=len(self.joined),
            status=OrderStatus.PENDING,
            created_at=0,
        )
        self.records[order.order_id] = record
        return record

    async def claim_key(self, key: str, order: Order, order_id: str) -> str:
        claimed = self.claims.setdefault((order.email, order.sku, key), (order_id, order))
        if claimed[1] != order:
            raise KeyReused(key)
        return claimed[0]

    async def release_key(self, key: str, order: Order, order_id: str) -> None:
        if self.claims.get((order.email, order.sku, key), ("",))[0] == order_id:
            del self.claims[(order.email, order.sku, key)]

    async def get_order(self, order_id: str) -> OrderRecord | None:
        return self.records.get(order_id)


class FakeDoor:
    def __init__(self, *closed: str) -> None:
        self.closed_skus = set(closed)

    async def closed(self, sku: str) -> bool:
        return sku in self.closed_skus


ORDER = Order("ada@example.com", "tee", 1)
_ids = itertools.count()


def _order_id(sku: str) -> str:
    return f"{sku}.{next(_ids)}"


async def _place(
    order: Order = ORDER,
    *,
    line: FakeLine,
    door: FakeDoor | None = None,
    key: str | None = None,
    token: str | None = None,
) -> Queued | Refused:
    return await place(
        order,
        line=line,
        door=door or FakeDoor(),
        tokens=BuyerTokens(secret=SECRET, ttl_seconds=TTL),
        idempotency_key=key,
        authorization=f"Bearer {token}" if token else None,
        client_ip="10.0.0.1",
        new_order_id=_order_id,
    )


def _session_of(token: str | None) -> str:
    assert token is not None
    return BuyerTokens(secret=SECRET, ttl_seconds=TTL).verify(token).session_id


async def test_an_order_at_an_open_door_joins_the_line_in_a_new_session_and_gets_its_token() -> None:
    line = FakeLine()
    outcome = await _place(line=line)
    assert isinstance(outcome, Queued) and not outcome.replayed
    (joined,) = line.joined
    assert (joined.sku, joined.email, joined.quantity, joined.client_ip) == ("tee", "ada@example.com", 1, "10.0.0.1")
    assert not joined.session_presented, "an anonymous request counts against its email"
    assert _session_of(outcome.token) == joined.session_id


async def test_without_a_key_an_order_at_a_door_known_closed_is_sold_out_before_the_line() -> None:
    line = FakeLine()
    outcome = await _place(line=line, door=FakeDoor("tee"))
    assert isinstance(outcome, SoldOut)
    assert line.joined == [] and line.claims == {}


async def test_with_a_key_an_order_at_a_door_known_closed_still_gets_its_replay() -> None:
    line = FakeLine()
    first = await _place(line=line, key="checkout-1")
    replay = await _place(line=line, door=FakeDoor("tee"), key="checkout-1")
    assert isinstance(first, Queued) and isinstance(replay, Queued)
    assert replay.record == first.record and replay.replayed
    assert len(line.joined) == 1, "nothing new in line"


async def test_a_replay_hands_the_session_token_only_to_a_request_showing_a_token_of_that_session() -> None:
    line = FakeLine()
    first = await _place(line=line, key="checkout-1")
    assert isinstance(first, Queued)
    stranger = await _place(line=line, key="checkout-1")
    assert isinstance(stranger, Queued) and stranger.record == first.record and stranger.token is None
    other_session = issue_buyer_token(ORDER.email, secret=SECRET, ttl_seconds=TTL, session_id="another")
    assert (await _place(line=line, key="checkout-1", token=other_session)).token is None  # type: ignore[union-attr]
    own = await _place(line=line, key="checkout-1", token=first.token)
    assert isinstance(own, Queued) and _session_of(own.token) == first.record.session_id


async def test_the_same_key_with_another_body_is_refused_and_queues_nothing() -> None:
    line = FakeLine()
    await _place(line=line, key="checkout-1")
    outcome = await _place(Order(ORDER.email, ORDER.sku, 2), line=line, key="checkout-1")
    assert isinstance(outcome, KeyReused)
    assert len(line.joined) == 1


@pytest.mark.parametrize("refusal", [SoldOut("tee"), UnknownProduct("tee"), LimitReached(30)])
async def test_a_refusal_at_the_door_is_the_outcome_and_leaves_the_key_free_for_the_retry(refusal: Refused) -> None:
    line = FakeLine(refusal)
    assert await _place(line=line, key="checkout-1") is refusal
    assert line.claims == {}, "the key was released"
    line.refusal = None
    retry = await _place(line=line, key="checkout-1")
    assert isinstance(retry, Queued) and not retry.replayed


async def test_a_key_whose_first_attempt_died_before_queueing_is_finished_under_the_same_order_id() -> None:
    line = FakeLine()
    line.claims[(ORDER.email, ORDER.sku, "checkout-1")] = ("tee.first", ORDER)  # claimed, never queued
    outcome = await _place(line=line, key="checkout-1")
    assert isinstance(outcome, Queued) and not outcome.replayed
    assert [o.order_id for o in line.joined] == ["tee.first"]


async def test_a_token_of_the_buyer_keeps_its_session_and_the_request_counts_against_that_session() -> None:
    line = FakeLine()
    token = issue_buyer_token(ORDER.email, secret=SECRET, ttl_seconds=TTL, session_id="page-1")
    outcome = await _place(line=line, token=token)
    assert isinstance(outcome, Queued)
    assert (line.joined[0].session_id, line.joined[0].session_presented) == ("page-1", True)
    assert outcome.token == token, "a young token is handed back as it is"

    someone_else = issue_buyer_token("eve@example.com", secret=SECRET, ttl_seconds=TTL, session_id="page-2")
    await _place(line=line, token=someone_else)
    assert line.joined[1].session_id != "page-2" and not line.joined[1].session_presented, "not this buyer's token"
