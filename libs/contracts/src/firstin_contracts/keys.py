"""Names of every Redis key, list and channel the services share.

Every key one product's scripts touch carries the product's hash tag (`{sku}`), so a product's enqueue and
decide scripts run on a single Redis Cluster slot (Redis docs, "Hash tags").
"""

import re
import uuid
from dataclasses import dataclass

# Lower-case letters, digits and hyphens: safe in URLs, Redis keys and order ids (which embed the sku).
SKU_PATTERN = r"^[a-z0-9][a-z0-9-]{0,47}$"
_SKU_RE = re.compile(SKU_PATTERN)

DEFAULT_SKU = "default"

# Pub/sub channel on which the processor publishes every batch of decisions (OrdersDecided).
OUTCOMES_CHANNEL = "firstin:outcomes"
# Pub/sub channel of OrderQueued messages: every order that joins a line (for the buyer's sockets).
QUEUED_CHANNEL = "firstin:queued"
# Pub/sub channel of ProductQueued messages: an order joined an empty line (wakes an idle processor).
WAKE_CHANNEL = "firstin:wake"
# Pub/sub channel of ProgressUpdated messages (throttled per product by the processor).
PROGRESS_CHANNEL = "firstin:progress"
# Set of every sku ever configured, so a starting processor can find lines left from before.
PRODUCTS_SET = "firstin:products"
# Set of the keys of the processes' heartbeats (heartbeat_key) written lately; a key that has expired is a process
# gone. The keys share the set's hash tag, so they are read in one MGET, on one Redis Cluster slot.
HEARTBEATS_SET = "firstin:{heartbeats}"

_ORDER_ID_SEPARATOR = "."


def is_valid_sku(sku: str) -> bool:
    return bool(_SKU_RE.match(sku))


def heartbeat_key(service: str, instance: str) -> str:
    """String: the latest ServiceHeartbeat of one process, expiring when it stops beating."""
    return f"{HEARTBEATS_SET}:{service}:{instance}"


def order_id_for(sku: str) -> str:
    """A new order id. It embeds the sku so an order's record is found without a global index."""
    return f"{sku}{_ORDER_ID_SEPARATOR}{uuid.uuid4().hex}"


def sku_of_order_id(order_id: str) -> str | None:
    sku, sep, rest = order_id.partition(_ORDER_ID_SEPARATOR)
    if not sep or not is_valid_sku(sku) or len(rest) != 32 or not rest.isalnum():
        return None
    return sku


@dataclass(frozen=True, slots=True)
class ProductKeys:
    """The Redis keys of one product, all under the product's hash tag."""

    sku: str

    @property
    def _prefix(self) -> str:
        return f"firstin:{{{self.sku}}}"

    @property
    def product(self) -> str:
        """Hash: the current sale round's state. round, round_started_at (ms), first_index (see order_ids),
        stock_total, stock_left, per_customer_limit, sold_out, pending_qty, last_position, now_serving, decided,
        accepted and rejected:<reason> (decisions of the round so far)."""
        return f"{self._prefix}:product"

    @property
    def queue(self) -> str:
        """List of PlaceOrder messages waiting for a decision, in position order."""
        return f"{self._prefix}:queue"

    @property
    def orders(self) -> str:
        """Hash: order_id -> OrderRecord JSON. The source of truth for every order of the product."""
        return f"{self._prefix}:orders"

    @property
    def order_ids(self) -> str:
        """List of order ids in the order they were given positions, every round one after the other: position p
        of a round is at index first_index + p - 1, first_index being the round's (product hash, or rounds)."""
        return f"{self._prefix}:order-ids"

    @property
    def rounds(self) -> str:
        """Hash of the closed sale rounds: <n> -> the product hash as the reset that closed round n found it, as
        JSON with closed_at (ms); <n>:decided and <n>:rejected:round_closed -> counts that go on growing while the
        orders round n left in line are rejected with reason round_closed."""
        return f"{self._prefix}:rounds"

    @property
    def bought(self) -> str:
        """Hash: email -> quantity accepted so far (per-customer limit)."""
        return f"{self._prefix}:bought"

    @property
    def dead_letters(self) -> str:
        """List of messages the processor could not decide, each with the reason."""
        return f"{self._prefix}:dead-letters"

    @property
    def lease(self) -> str:
        """String: the id of the processor deciding this product, expiring unless renewed."""
        return f"{self._prefix}:lease"

    def idempotency(self, key_digest: str) -> str:
        return f"{self._prefix}:idempotency:{key_digest}"


@dataclass(frozen=True, slots=True)
class SessionKeys:
    session_id: str

    @property
    def recent_orders(self) -> str:
        """Sorted set: order ids of the session's recent orders, scored by creation time (ms)."""
        return f"firstin:session:{{{self.session_id}}}:orders"
