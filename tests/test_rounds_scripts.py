"""Sale rounds across the three scripts that meet in Redis: configure.lua (a reset starts a round), enqueue.lua (an
order joins the current round) and decide.lua (each order decided in its own round), called through the api's and
the processor's own adapters on a real redis-server, in any interleaving. Whatever the order of resets, arrivals
and decisions, each order gets what the pure rule (rules.py) gives it in a model of the same program: positions
from 1 in each round, decisions in position order within each round, never more accepted than the round's
stock, and round_closed for whatever a reset left in line."""

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from faststream.redis import RedisBroker
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from firstin_api.placing import NewOrder
from firstin_api.products import ProductStore
from firstin_api.store import OrderStore, RateLimits
from firstin_api.wire import JsonEnvelopeFormat
from firstin_contracts import OrderRecord, OrderStatus, ProductKeys, RejectReason, order_id_for
from firstin_processor.rules import Decision, Line
from firstin_processor.store import DecisionStore
from firstin_stack import RedisServer, unique_sku

pytestmark = pytest.mark.slow

LIMIT = 2  # per customer, in every round


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A Redis of this module's own: no processor of another test's stack may decide these lines."""
    with RedisServer() as server:
        yield server.url


@dataclass(frozen=True)
class Arrive:
    orders: tuple[tuple[str, int], ...]  # (email, quantity), one group as the api sends it


@dataclass(frozen=True)
class Reset:
    stock: int


@dataclass(frozen=True)
class Decide:
    batch: int


emails = st.sampled_from(["a@x.io", "b@x.io", "c@x.io"])
steps = st.one_of(
    st.builds(Arrive, st.lists(st.tuples(emails, st.integers(1, 3)), min_size=1, max_size=5).map(tuple)),
    st.builds(Reset, st.integers(0, 6)),
    st.builds(Decide, st.integers(1, 6)),
)


@dataclass
class Expected:
    round: int
    position: int
    decision: Decision | None = None
    seq: int | None = None


class Model:
    """The program as the rules say it should end: one Line per round, the line itself a list."""

    def __init__(self, stock: int):
        self.rounds = [Line(stock, LIMIT, round=1)]
        self.positions = [0]
        self.decided = [0]
        self.line: list[tuple[str, str, int]] = []  # order id, email, quantity
        self.orders: dict[str, Expected] = {}

    def arrive(self, order_id: str, email: str, quantity: int) -> None:
        self.positions[-1] += 1
        self.orders[order_id] = Expected(len(self.rounds), self.positions[-1])
        self.line.append((order_id, email, quantity))

    def reset(self, stock: int) -> None:
        self.rounds.append(Line(stock, LIMIT, round=len(self.rounds) + 1))
        self.positions.append(0)
        self.decided.append(0)

    def decide(self, batch: int) -> None:
        taken, self.line = self.line[:batch], self.line[batch:]
        for order_id, email, quantity in taken:
            expected = self.orders[order_id]
            expected.decision = self.rounds[-1].decide_next(email, quantity, expected.round)
            self.decided[expected.round - 1] += 1
            expected.seq = self.decided[expected.round - 1]


async def run(redis_url: str, stock: int, program: list[Arrive | Reset | Decide]) -> None:
    sku = unique_sku("rounds")
    model = Model(stock)
    redis = Redis.from_url(redis_url)
    broker = RedisBroker(redis_url, message_format=JsonEnvelopeFormat, logger=None)
    await broker.connect()
    try:
        orders = OrderStore(
            broker, redis, idempotency_ttl=60, recent_orders_kept=5, rate_limits=RateLimits(per_ip=0, per_email=0)
        )
        products = ProductStore(redis)
        decisions = DecisionStore(redis, batch_size=1, max_message_bytes=4096, dead_letters_kept=10)
        assert await products.configure_product(sku, stock=stock, per_customer_limit=LIMIT) == 1
        for step in [*program, Decide(10_000)]:
            match step:
                case Arrive(group):
                    new = [NewOrder(order_id_for(sku), sku, email, q, f"s-{email}", "10.0.0.1") for email, q in group]
                    for order, record in zip(new, await orders.enqueue(new), strict=True):
                        assert isinstance(record, OrderRecord)
                        model.arrive(order.order_id, order.email, order.quantity)
                        assert (record.round, record.position) == (
                            model.orders[order.order_id].round,
                            model.orders[order.order_id].position,
                        )
                case Reset(new_stock):
                    model.reset(new_stock)
                    assert await products.configure_product(sku, stock=new_stock, per_customer_limit=LIMIT) == len(
                        model.rounds
                    )
                case Decide(batch):
                    model.decide(batch)
                    for _ in range(batch):
                        if (await decisions.decide_batch(sku)).remaining == 0:
                            break
        keys = ProductKeys(sku)
        ids = list(model.orders)
        raws = await redis.hmget(keys.orders, ids) if ids else []
        records = {r.order_id: r for r in (OrderRecord.model_validate_json(raw) for raw in raws if raw is not None)}
        for order_id, expected in model.orders.items():
            record = records[order_id]
            assert expected.decision is not None
            assert (record.round, record.position, record.status, record.reason, record.decision_seq) == (
                expected.round,
                expected.position,
                expected.decision.status,
                expected.decision.reason,
                expected.seq,
            ), f"order {order_id}"
        for number, line in enumerate(model.rounds, start=1):  # the stock each round kept is the rule's
            accepted = sum(
                r.quantity for r in records.values() if r.round == number and r.status is OrderStatus.ACCEPTED
            )
            rounds = {r.round: r for r in await products.rounds(sku)}
            assert rounds[number].stock_total - accepted == line.stock_left >= 0
            assert rounds[number].decided == model.decided[number - 1] == rounds[number].orders
            closed = sum(1 for r in records.values() if r.round == number and r.reason is RejectReason.ROUND_CLOSED)
            assert rounds[number].rejected.get("round_closed", 0) == closed
        # The order-ids list holds each round's orders at first_index + position - 1.
        listed = [i.decode() for i in await redis.lrange(keys.order_ids, 0, -1)]
        for number, summary in {r.round: r for r in await products.rounds(sku)}.items():
            in_round = listed[summary.first_index : summary.first_index + summary.orders]
            assert [records[i].position for i in in_round] == list(range(1, summary.orders + 1))
            assert {records[i].round for i in in_round} <= {number}
    finally:
        await broker.stop()
        await redis.aclose()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stock=st.integers(0, 6), program=st.lists(steps, max_size=25))
def test_resets_arrivals_and_decisions_in_any_order_keep_each_round_to_itself(
    redis_url: str, stock: int, program: list[Arrive | Reset | Decide]
) -> None:
    asyncio.run(run(redis_url, stock, program))
