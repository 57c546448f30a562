"""HTTP models of the api (…Create for requests, …Public for responses)."""

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import Path
from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field

from firstin_contracts import DEFAULT_SKU, SKU_PATTERN, OrderRecord, OrderStatus, RejectReason, ServiceHeartbeat

# Addresses are compared case-insensitively: one buyer, one room, one per-customer count.
Email = Annotated[EmailStr, Field(max_length=254), AfterValidator(str.lower)]
Sku = Annotated[str, Field(pattern=SKU_PATTERN, examples=[DEFAULT_SKU])]
SkuPath = Annotated[str, Path(pattern=SKU_PATTERN)]


class OrderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    sku: Sku = DEFAULT_SKU
    # strict: JSON `true` is not a quantity of 1, nor `2.0` one of 2
    quantity: int = Field(default=1, ge=1, le=1000, strict=True)


class BuyCreate(BaseModel):
    """The tutorial's `POST /buy` body: one item of the default product."""

    model_config = ConfigDict(extra="forbid")

    email: Email


class SessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email


class SessionPublic(BaseModel):
    token: str
    expires_in: int = Field(description="Seconds until the token expires")


class OrderAcceptedPublic(BaseModel):
    order_id: str
    status: OrderStatus
    sku: str
    quantity: int
    position: int = Field(description="1-based place in the product's line")
    token: str | None = Field(
        description="Pass as Socket.IO auth {token} to receive this buyer's outcomes. null on a replay of an "
        "Idempotency-Key that did not present a token of the order's session"
    )


class DoorRejectionPublic(BaseModel):
    status: Literal["rejected"] = "rejected"
    reason: RejectReason


def from_ms(ms: int | None) -> datetime | None:
    """A time as Redis keeps it (ms since the epoch) as the api shows it."""
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


class OrderPublic(BaseModel):
    order_id: str
    status: OrderStatus
    reason: RejectReason | None
    sku: str
    quantity: int
    position: int
    created_at: datetime
    decided_at: datetime | None
    round: int = Field(description="The product's sale round the order joined; its position is in that round")

    @classmethod
    def of(cls, record: OrderRecord) -> "OrderPublic":
        return cls(
            order_id=record.order_id,
            status=record.status,
            reason=record.reason,
            sku=record.sku,
            quantity=record.quantity,
            position=record.position,
            created_at=datetime.fromtimestamp(record.created_at / 1000, tz=UTC),
            decided_at=from_ms(record.decided_at),
            round=record.round,
        )


class AdminOrderPublic(OrderPublic):
    """An order as the admin api lists and exports it: with its buyer, and its place among its round's decisions."""

    email: str
    decision_seq: int | None = Field(description="The n-th decision of the round; follows the positions")

    @classmethod
    def of(cls, record: OrderRecord) -> "AdminOrderPublic":
        return cls(**OrderPublic.of(record).model_dump(), email=record.email, decision_seq=record.decision_seq)


class OrdersPagePublic(BaseModel):
    sku: str
    round: int
    orders: list[AdminOrderPublic] = Field(description="In position order")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null when the round had no more orders when read"
    )


class ProductPublic(BaseModel):
    sku: str
    stock_total: int
    stock_left: int
    sold_out: bool
    per_customer_limit: int | None
    now_serving: int = Field(description="Highest position decided so far in the current round")
    queue_length: int = Field(description="Orders waiting for a decision (of any round)")
    round: int = Field(description="The current sale round: PUT /admin/products/{sku} starts the next")


class ProductOverviewPublic(ProductPublic):
    """What the admin page shows of a product (decisions/s is the client's difference of `decided`)."""

    decided: int = Field(description="Orders of the current round decided so far")
    last_position: int = Field(description="Orders of the current round queued so far")
    round_started_at: datetime | None
    accepted: int = Field(description="Orders of the current round accepted so far")
    rejected: dict[RejectReason, int] = Field(description="Orders of the current round rejected so far, by reason")
    dead_letters: int = Field(description="Messages set aside in firstin:{sku}:dead-letters (all rounds)")
    decided_by: str | None = Field(description="The processor holding the product's lease (null: none now)")


class RoundPublic(BaseModel):
    round: int
    stock_total: int
    stock_left: int
    per_customer_limit: int | None
    orders: int = Field(description="Orders that joined the round")
    decided: int
    pending: int = Field(description="Orders of the round not decided yet")
    accepted: int
    rejected: dict[RejectReason, int]
    started_at: datetime | None
    closed_at: datetime | None = Field(description="null for the current round")


class ProductConfigure(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stock: int = Field(ge=0, le=10_000_000, strict=True)
    per_customer_limit: int | None = Field(default=None, ge=1, strict=True)


class ErrorPublic(BaseModel):
    detail: str


class RedisPublic(BaseModel):
    ok: bool
    latency_ms: float | None = Field(description="One round trip from this api")
    version: str | None
    error: str | None


class ProcessPublic(ServiceHeartbeat):
    """A processor or notifier as its latest heartbeat says."""

    seen_seconds_ago: float


class DoorPublic(BaseModel):
    sold_out: int = Field(description="409s")
    rate_limited: int = Field(description="429s")


class HealthPublic(BaseModel):
    redis: RedisPublic
    processors: list[ProcessPublic]
    notifiers: list[ProcessPublic]
    door: DoorPublic = Field(description="Orders this api refused at the door since it started, all its workers")


class DeadLetterPublic(BaseModel):
    reason: str
    at: datetime | None
    message: str = Field(description="The message as it was queued (its first KiB), or its bytes in hex")


class DeadLettersPublic(BaseModel):
    sku: str
    total: int
    letters: list[DeadLetterPublic] = Field(description="Newest first")
