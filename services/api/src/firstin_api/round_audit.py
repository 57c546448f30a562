"""The audit of one sale round, taken as its orders are read in position order (pure): what the round's export
ends with. The same checks as the test harness's sale audit (firstin_stack.audit), for one round and from the
records alone: no more accepted than the round's stock, and decisions in position order."""

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from firstin_contracts import OrderRecord, OrderStatus


@dataclass
class RoundAudit:
    stock_total: int
    orders: int = 0
    accepted: int = 0
    accepted_quantity: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    pending: int = 0
    # Decisions out of position order: two decided orders, next to each other among the decided ones, the later
    # in line decided first (as firstin_stack.audit counts them).
    fifo_violations: int = 0
    # Orders that share a decision number with an earlier one (one decision taken twice).
    duplicate_decisions: int = 0
    _last_seq: int = 0
    _seen: bytearray = field(default_factory=bytearray)  # a bit per decision number: one per order, not a set

    def add(self, record: OrderRecord) -> None:
        """The next order of the round, in position order."""
        self.orders += 1
        if record.status is OrderStatus.PENDING:
            self.pending += 1
        elif record.status is OrderStatus.ACCEPTED:
            self.accepted += 1
            self.accepted_quantity += record.quantity
        elif record.reason is not None:
            self.rejected[record.reason.value] += 1
        seq = record.decision_seq
        if seq is None:
            return
        # Read in chunks while the round may still be deciding: only decided orders are compared, and they
        # never change, so a sale in progress shows no false violation.
        self.fifo_violations += seq < self._last_seq
        self._last_seq = seq
        byte, bit = divmod(seq, 8)
        if byte >= len(self._seen):
            self._seen.extend(bytes(byte + 1 - len(self._seen)))
        self.duplicate_decisions += bool(self._seen[byte] & (1 << bit))
        self._seen[byte] |= 1 << bit

    @property
    def oversell(self) -> int:
        return max(0, self.accepted_quantity - self.stock_total)

    def result(self) -> dict[str, Any]:
        return {
            "orders": self.orders,
            "accepted": self.accepted,
            "accepted_quantity": self.accepted_quantity,
            "stock_total": self.stock_total,
            "rejected": dict(sorted(self.rejected.items())),
            "pending": self.pending,
            "oversell": self.oversell,
            "fifo_violations": self.fifo_violations,
            "duplicate_decisions": self.duplicate_decisions,
        }
