"""Messages the services exchange, as pydantic models.

Times are integer milliseconds since the epoch (what Redis' TIME gives a Lua script cheaply).
Names: commands in the imperative (PlaceOrder), events in the past tense (OrdersDecided).
"""

import os
import socket
import time
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from firstin_contracts.keys import SKU_PATTERN

SCHEMA_VERSION: Literal[1] = 1

Sku = Annotated[str, Field(pattern=SKU_PATTERN)]
Quantity = Annotated[int, Field(ge=1, le=1000)]
EpochMillis = Annotated[int, Field(ge=0)]


class OrderStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class RejectReason(StrEnum):
    SOLD_OUT = "sold_out"
    INSUFFICIENT_STOCK = "insufficient_stock"
    LIMIT_EXCEEDED = "limit_exceeded"
    # The product was reset (a new sale round) while the order was still in line: decided against no stock.
    ROUND_CLOSED = "round_closed"


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlaceOrder(_Message):
    """Queued by the api on the product's list; decided by the processor."""

    schema_version: Literal[1] = SCHEMA_VERSION
    order_id: str
    sku: Sku
    email: str
    quantity: Quantity


class ProductQueued(_Message):
    """Published by enqueue.lua when an order joins an empty line: an idle processor wakes at once instead of
    at its next poll (a busy one is draining the line anyway)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    sku: Sku


class OrderQueued(_Message):
    """Published by enqueue.lua (in the api's enqueue transaction) when an order joins a line: it tells the
    buyer session's sockets "#k in line" as soon as it is true."""

    schema_version: Literal[1] = SCHEMA_VERSION
    order_id: str
    sku: Sku
    email: str
    session_id: str
    quantity: Quantity
    position: int = Field(ge=1)


class OrderRecord(_Message):
    """An order as stored in its product's orders hash: written pending by the api, decided by the processor."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    order_id: str
    sku: Sku
    email: str
    # The buyer session (token) that placed the order: its sockets, and only they, hear the outcome.
    session_id: str
    quantity: Quantity
    position: int = Field(ge=1)
    status: OrderStatus
    reason: RejectReason | None = None
    created_at: EpochMillis
    decided_at: EpochMillis | None = None
    # The sale round the order joined (PUT /admin/products starts a new one). Positions, decision numbers and
    # stock are those of this round. Records written before rounds existed belong to round 1.
    round: int = Field(default=1, ge=1)
    # The n-th decision taken in the order's round; decisions follow positions when this grows with position.
    decision_seq: int | None = None


class OrderDecided(_Message):
    order_id: str
    sku: Sku
    email: str
    session_id: str
    quantity: Quantity
    position: int = Field(ge=1)
    status: Literal[OrderStatus.ACCEPTED, OrderStatus.REJECTED]
    reason: RejectReason | None = None
    decided_at: EpochMillis
    decision_seq: int = Field(ge=1)


class OrdersDecided(_Message):
    """Published by the processor on OUTCOMES_CHANNEL, one message per batch of decisions of one product."""

    schema_version: Literal[1] = SCHEMA_VERSION
    sku: Sku
    decisions: list[OrderDecided]


class OrderUpdate(_Message):
    """Payload of the Socket.IO `order` event a buyer receives."""

    order_id: str
    sku: Sku
    status: OrderStatus
    reason: RejectReason | None = None
    position: int

    @classmethod
    def of(cls, order: OrderRecord | OrderDecided) -> "OrderUpdate":
        return cls(
            order_id=order.order_id,
            sku=order.sku,
            status=order.status,
            reason=order.reason,
            position=order.position,
        )


class ProgressUpdated(_Message):
    """Published by the processor on PROGRESS_CHANNEL, a few times a second at most per product in motion;
    relayed to every socket waiting in that product's line (it is public, like GET /products/{sku})."""

    schema_version: Literal[1] = SCHEMA_VERSION
    sku: Sku
    now_serving: int = Field(ge=0, description="Highest position decided so far")
    stock_left: int
    queue_length: int


class ServiceHeartbeat(BaseModel):
    """Written to Redis by each processor and notifier every few seconds (heartbeat_key, expiring after a few missed
    beats): how the api's admin page knows which of them are alive and what they are doing, without reaching them."""

    # Fields added later are ignored by older readers, as in OrderRecord.
    model_config = ConfigDict(extra="ignore", frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    service: Literal["processor", "notifier"]
    instance: str
    host: str
    pid: int
    started_at: EpochMillis
    at: EpochMillis
    leases: int | None = Field(default=None, description="processor: the products it decides now (their leases)")
    sockets: int | None = Field(default=None, description="notifier: sockets connected to it")
    subscribed: bool | None = Field(default=None, description="notifier: its subscription to the outcomes is up")

    @classmethod
    def of_this_process(
        cls, service: Literal["processor", "notifier"], instance: str, started_at: int, **state: int | bool
    ) -> "ServiceHeartbeat":
        return cls.model_validate(
            {
                "service": service,
                "instance": instance,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "started_at": started_at,
                "at": int(time.time() * 1000),
                **state,
            }
        )
