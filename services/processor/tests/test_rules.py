"""The decision rule on its own: FIFO-greedy, never below zero, limits respected."""

from hypothesis import given
from hypothesis import strategies as st

from firstin_contracts import OrderStatus, RejectReason
from firstin_processor.rules import ROUND_CLOSED, decide, decide_line, decide_rounds

emails = st.sampled_from(["a@x.io", "b@x.io", "c@x.io", "d@x.io"])
orders = st.lists(st.tuples(emails, st.integers(1, 5)), max_size=60)
limits = st.one_of(st.none(), st.integers(1, 8))


def test_accepts_while_stock_covers_the_quantity() -> None:
    assert decide(stock_left=2, per_customer_limit=None, already_bought=0, quantity=2).status is OrderStatus.ACCEPTED


def test_last_item_goes_to_the_first_in_line_and_no_further() -> None:
    # The tutorial's off-by-one sold stock+1 items; here stock 5 accepts exactly 5.
    decisions = decide_line(5, None, [(f"{i}@x.io", 1) for i in range(7)])
    assert [d.status for d in decisions] == [OrderStatus.ACCEPTED] * 5 + [OrderStatus.REJECTED] * 2
    assert {d.reason for d in decisions[5:]} == {RejectReason.SOLD_OUT}


def test_reasons() -> None:
    assert decide(stock_left=0, per_customer_limit=1, already_bought=1, quantity=1).reason is RejectReason.SOLD_OUT
    assert (
        decide(stock_left=5, per_customer_limit=2, already_bought=1, quantity=2).reason is RejectReason.LIMIT_EXCEEDED
    )
    assert decide(stock_left=1, per_customer_limit=None, already_bought=0, quantity=2).reason is (
        RejectReason.INSUFFICIENT_STOCK
    )


@given(stock=st.integers(0, 30), limit=limits, line=orders)
def test_never_oversells_and_respects_limits(stock: int, limit: int | None, line: list[tuple[str, int]]) -> None:
    decisions = decide_line(stock, limit, line)
    accepted = [order for order, d in zip(line, decisions, strict=True) if d.status is OrderStatus.ACCEPTED]
    assert sum(q for _, q in accepted) <= stock
    if limit is not None:
        for email in {e for e, _ in line}:
            assert sum(q for e, q in accepted if e == email) <= limit


@given(stock=st.integers(0, 30), limit=limits, line=orders)
def test_is_fifo_greedy(stock: int, limit: int | None, line: list[tuple[str, int]]) -> None:
    """Each order is accepted exactly when it fits what the orders before it left over."""
    decisions = decide_line(stock, limit, line)
    left, bought = stock, dict[str, int]()
    for (email, quantity), decision in zip(line, decisions, strict=True):
        fits = quantity <= left and (limit is None or bought.get(email, 0) + quantity <= limit)
        assert (decision.status is OrderStatus.ACCEPTED) == fits
        if fits:
            left -= quantity
            bought[email] = bought.get(email, 0) + quantity
        else:
            assert decision.reason is not None
            assert (decision.reason is RejectReason.SOLD_OUT) == (left == 0)


@given(stock=st.integers(0, 30), limit=limits, line=orders, closed=st.lists(st.booleans(), max_size=60))
def test_orders_of_a_closed_round_are_rejected_and_change_nothing(
    stock: int, limit: int | None, line: list[tuple[str, int]], closed: list[bool]
) -> None:
    """Mixing in orders of an earlier round leaves the current round's decisions as they are without them."""
    mixed = [(email, quantity, 1 if i < len(closed) and closed[i] else 2) for i, (email, quantity) in enumerate(line)]
    decisions = decide_rounds(stock, limit, 2, mixed)
    assert [d for (_, _, r), d in zip(mixed, decisions, strict=True) if r == 1] == [ROUND_CLOSED] * sum(
        1 for *_, r in mixed if r == 1
    )
    assert ROUND_CLOSED.reason is RejectReason.ROUND_CLOSED
    current = [(email, quantity) for email, quantity, r in mixed if r == 2]
    assert [d for (*_, r), d in zip(mixed, decisions, strict=True) if r == 2] == decide_line(stock, limit, current)
