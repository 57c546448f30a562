"""One audit for every fault test: what Redis and the buyers' sockets say after a sale.

Every counter but `accepted`, `rejected` and `dead_letters` must be zero for a sale to be correct. A product's sale
rounds (each reset starts one) are audited each against itself: its own stock, positions and decision numbers.
"""

import json
from collections import Counter
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from typing import Any, cast

import redis

from firstin_contracts import OrderRecord, OrderStatus, ProductKeys
from firstin_stack.client import BuyerSocket


def _text(fields: dict[Any, Any]) -> dict[str, str]:
    return {cast(bytes, k).decode(): cast(bytes, v).decode() for k, v in fields.items()}


@dataclass
class SaleAudit:
    accepted: int = 0
    rejected: int = 0
    pending: int = 0
    # An order the api answered 202 for that has no record.
    lost: int = 0
    # Decided more than once: two records sharing a decision number, or two final events for one order.
    duplicates: int = 0
    # Items accepted beyond their round's stock, summed over the rounds.
    oversell: int = 0
    # Adjacent positions of a round decided out of order.
    fifo_violations: int = 0
    # Orders whose buyer socket never received a final event.
    missing_notifications: int = 0
    # Events a socket received about an order that is not its buyer's.
    wrong_recipient: int = 0
    dead_letters: int = 0
    dead_letter_reasons: dict[str, int] = field(default_factory=dict)

    def must_be_zero(self) -> dict[str, int]:
        counters = asdict(self)
        return {
            k: counters[k]
            for k in (
                "pending",
                "lost",
                "duplicates",
                "oversell",
                "fifo_violations",
                "missing_notifications",
                "wrong_recipient",
            )
        }

    def assert_correct(self) -> None:
        problems = {k: v for k, v in self.must_be_zero().items() if v}
        assert not problems, f"sale audit failed: {problems} (full audit: {self})"


def audit_sale(
    redis_url: str,
    sku: str,
    *,
    accepted_orders: dict[str, str],
    sockets: dict[str, BuyerSocket] | None = None,
    ignore_orders: Collection[str] = (),
    round: int | None = None,
) -> SaleAudit:
    """Audit one product's sale.

    accepted_orders: order id -> email, for every order the api answered 202.
    sockets: email -> that buyer's socket; when given, every accepted order must have reached it exactly once,
    and no socket may hold another buyer's order.
    ignore_orders: orders outside the sale that the sockets heard of on purpose (a test's barrier orders).
    round: audit that sale round alone (its orders, and the accepted_orders among them); default: every round.
    """
    keys = ProductKeys(sku)
    client = redis.Redis.from_url(redis_url)
    try:
        records = [OrderRecord.model_validate_json(raw) for raw in client.hvals(keys.orders)]
        product = _text(client.hgetall(keys.product))
        closed = _text(client.hgetall(keys.rounds))
        letters = [json.loads(raw) for raw in client.lrange(keys.dead_letters, 0, -1)]
    finally:
        client.close()
    if round is not None:
        # The sockets heard of the other rounds' orders too: those are another audit's.
        ignore_orders = {*ignore_orders, *(r.order_id for r in records if r.round != round)}
        records = [r for r in records if r.round == round]
        in_round = {r.order_id for r in records}
        accepted_orders = {order_id: e for order_id, e in accepted_orders.items() if order_id in in_round}

    audit = SaleAudit(dead_letters=len(letters), dead_letter_reasons=dict(Counter(x["reason"] for x in letters)))
    by_id = {r.order_id: r for r in records}
    audit.lost = sum(1 for order_id in accepted_orders if order_id not in by_id)
    audit.accepted = sum(1 for r in records if r.status is OrderStatus.ACCEPTED)
    audit.rejected = sum(1 for r in records if r.status is OrderStatus.REJECTED)
    audit.pending = sum(1 for r in records if r.status is OrderStatus.PENDING)
    current = int(product.get("round", 1))
    for number in sorted({r.round for r in records} | ({current} if round in (None, current) else set())):
        ours = [r for r in records if r.round == number]
        if number == current:
            stock, decided_count = int(product.get("stock_total", 0)), int(product.get("decided", 0))
        else:
            summary = json.loads(closed.get(str(number), "{}"))
            stock, decided_count = int(summary.get("stock_total", 0)), int(closed.get(f"{number}:decided", 0))
        accepted_quantity = sum(r.quantity for r in ours if r.status is OrderStatus.ACCEPTED)
        audit.oversell += max(0, accepted_quantity - stock)
        decided = sorted((r for r in ours if r.decision_seq is not None), key=lambda r: r.position)
        seqs = [r.decision_seq for r in decided]
        audit.duplicates += len(seqs) - len(set(seqs)) + abs(decided_count - len(decided))
        audit.fifo_violations += sum(1 for a, b in pairwise(seqs) if a is not None and b is not None and b < a)

    def owner(order_id: str) -> str | None:
        record = by_id.get(order_id)
        return accepted_orders.get(order_id) or (record.email if record else None)

    if sockets is not None:
        finals_by_email: dict[str, Counter[str]] = {
            email: Counter(e["order_id"] for e in socket.finals() if e["order_id"] not in ignore_orders)
            for email, socket in sockets.items()
        }
        for order_id, email in accepted_orders.items():
            count = finals_by_email.get(email, Counter())[order_id]
            if count == 0:
                audit.missing_notifications += 1
            audit.duplicates += max(0, count - 1)
        for email, counts in finals_by_email.items():
            audit.wrong_recipient += sum(n for order_id, n in counts.items() if owner(order_id) != email)

    return audit
