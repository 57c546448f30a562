"""Placing an order, independent of the web framework: both the FastAPI route and the lean ASGI path
(fastpath.py) call `place` and send the answer it returns, so they cannot answer differently."""

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from firstin_api import metrics
from firstin_api.buyer_tokens import BuyerTokens
from firstin_api.schemas import DoorRejectionPublic, OrderAcceptedPublic, OrderCreate
from firstin_api.store import IdempotencyKeyReused, OrderStore, RateLimited, SoldOut, UnknownProduct
from firstin_contracts import BuyerSession, OrderRecord, RejectReason, new_session_id

log = logging.getLogger("firstin.api")

REDIS_RETRY_AFTER_SECONDS = 1


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


SOLD_OUT = Answer(409, DoorRejectionPublic(reason=RejectReason.SOLD_OUT).model_dump())
REDIS_UNAVAILABLE = Answer(
    503, {"detail": "order store unavailable, retry shortly"}, {"Retry-After": str(REDIS_RETRY_AFTER_SECONDS)}
)


def rate_limited(exc: RateLimited) -> Answer:
    metrics.ORDERS_REJECTED_AT_DOOR.labels("rate_limited").inc()
    return Answer(429, {"detail": "too many requests"}, {"Retry-After": str(exc.retry_after)})


async def place(
    order: OrderCreate,
    *,
    store: OrderStore,
    tokens: BuyerTokens,
    idempotency_key: str | None,
    authorization: str | None,
    client_ip: str,
) -> Answer:
    """Queue the order, or say why not. Redis errors propagate: the caller answers 503."""
    started = time.perf_counter()
    presented = tokens.session_of(authorization, order.email)
    try:
        placed = await store.place_order(
            sku=order.sku,
            email=order.email,
            quantity=order.quantity,
            session_id=presented.session_id if presented is not None else new_session_id(),
            client_ip=client_ip,
            idempotency_key=idempotency_key,
            session_presented=presented is not None,
        )
    except RateLimited as exc:
        return rate_limited(exc)
    except UnknownProduct:
        # No per-sku label for a product that does not exist: made-up skus must leave nothing behind.
        metrics.ORDERS_REJECTED_AT_DOOR.labels("unknown_sku").inc()
        return Answer(404, {"detail": f"unknown sku {order.sku!r}"})
    except SoldOut:
        metrics.ORDERS_RECEIVED.labels(order.sku).inc()
        metrics.ORDERS_REJECTED_AT_DOOR.labels(RejectReason.SOLD_OUT).inc()
        return SOLD_OUT
    except IdempotencyKeyReused:
        metrics.ORDERS_RECEIVED.labels(order.sku).inc()
        metrics.ORDERS_REJECTED_AT_DOOR.labels("idempotency_key_reused").inc()
        error = {
            "loc": ["header", "Idempotency-Key"],
            "msg": "key already used with a different body",
            "type": "idempotency_key_reused",
        }
        return Answer(422, {"detail": [error]})
    record = placed.record
    metrics.ORDERS_RECEIVED.labels(order.sku).inc()
    if not placed.replayed:
        metrics.ORDERS_QUEUED.labels(order.sku).inc()
        log.info("order queued", extra={"order_id": record.order_id, "sku": record.sku, "position": record.position})
    metrics.PLACE_ORDER_DURATION.observe(time.perf_counter() - started)
    accepted = OrderAcceptedPublic(
        order_id=record.order_id,
        status=record.status,
        sku=record.sku,
        quantity=record.quantity,
        position=record.position,
        token=_token_for(tokens, record, placed.replayed, presented, authorization),
    )
    return Answer(202, accepted.model_dump(mode="json"), {"Location": f"/orders/{record.order_id}"})


def _token_for(
    tokens: BuyerTokens,
    record: OrderRecord,
    replayed: bool,
    presented: BuyerSession | None,
    authorization: str | None,
) -> str | None:
    """A replay (the same Idempotency-Key again) answers with the order, but with its session's token only to a
    request that shows a token of that session: repeating a buyer's email, sku and key proves nothing."""
    if replayed and (presented is None or presented.session_id != record.session_id):
        return None
    return tokens.token_for(record.email, record.session_id, presented, authorization)
