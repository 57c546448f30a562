"""The decision rule: who gets an item. Pure; decide.lua is its twin inside Redis (tests pin them together)."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from firstin_contracts import OrderStatus, RejectReason


@dataclass(frozen=True, slots=True)
class Decision:
    status: OrderStatus
    reason: RejectReason | None = None


ACCEPT = Decision(OrderStatus.ACCEPTED)
ROUND_CLOSED = Decision(OrderStatus.REJECTED, RejectReason.ROUND_CLOSED)


def decide(*, stock_left: int, per_customer_limit: int | None, already_bought: int, quantity: int) -> Decision:
    """Decide one order against the product's state at its turn in line.

    Reasons are checked in this order so a buyer is told the most useful one: nothing left at all, then
    their own limit (retrying with a smaller quantity cannot help), then not enough left for this quantity.
    """
    if stock_left <= 0:
        return Decision(OrderStatus.REJECTED, RejectReason.SOLD_OUT)
    if per_customer_limit is not None and already_bought + quantity > per_customer_limit:
        return Decision(OrderStatus.REJECTED, RejectReason.LIMIT_EXCEEDED)
    if quantity > stock_left:
        return Decision(OrderStatus.REJECTED, RejectReason.INSUFFICIENT_STOCK)
    return ACCEPT


@dataclass(slots=True)
class Line:
    """A product's state as the line is decided, order by order, strictly first come, first served.

    The state is the current sale round's: an order that joined an earlier round (the product was reset while it
    waited) is rejected with reason round_closed, and changes nothing here."""

    stock_left: int
    per_customer_limit: int | None = None
    bought: dict[str, int] = field(default_factory=dict)
    round: int = 1

    def decide_next(self, email: str, quantity: int, round: int | None = None) -> Decision:
        """Decide the next order in line; `round` is the one the order joined (None: the current one)."""
        if round is not None and round != self.round:
            return ROUND_CLOSED
        decision = decide(
            stock_left=self.stock_left,
            per_customer_limit=self.per_customer_limit,
            already_bought=self.bought.get(email, 0),
            quantity=quantity,
        )
        if decision.status is OrderStatus.ACCEPTED:
            self.stock_left -= quantity
            self.bought[email] = self.bought.get(email, 0) + quantity
        return decision


def decide_line(
    stock: int, per_customer_limit: int | None, orders: Iterable[tuple[str, int]], bought: Mapping[str, int] = {}
) -> list[Decision]:
    """Decide (email, quantity) orders of one round in the given order: the FIFO-greedy answer."""
    line = Line(stock, per_customer_limit, dict(bought))
    return [line.decide_next(email, quantity) for email, quantity in orders]


def decide_rounds(
    stock: int, per_customer_limit: int | None, round: int, orders: Iterable[tuple[str, int, int]]
) -> list[Decision]:
    """Decide (email, quantity, round joined) orders in the given order, for a product now in sale round
    `round`: orders of earlier rounds are rejected round_closed, the others get the FIFO-greedy answer."""
    line = Line(stock, per_customer_limit, round=round)
    return [line.decide_next(email, quantity, joined) for email, quantity, joined in orders]
