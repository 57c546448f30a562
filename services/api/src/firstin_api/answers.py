"""What the api answers, over HTTP, to each outcome of an order, and to a store it cannot reach; and the
metrics each answer counts."""

import functools
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter
from redis.exceptions import RedisError

from firstin_api import metrics
from firstin_api.placing import KeyReused, LimitReached, Order, Queued, Refused, SoldOut, UnknownProduct
from firstin_api.schemas import DoorRejectionPublic, OrderAcceptedPublic
from firstin_contracts import RejectReason

log = logging.getLogger("firstin.api")

REDIS_RETRY_AFTER_SECONDS = 1
# Redis unreachable, timing out, or refusing (e.g. a read-only replica during a failover): the order may be
# retried shortly, so a 503 with Retry-After, not a 500.
STORE_FAILURES = (RedisError, OSError)


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


SOLD_OUT = Answer(409, DoorRejectionPublic(reason=RejectReason.SOLD_OUT).model_dump())
REDIS_UNAVAILABLE = Answer(
    503, {"detail": "order store unavailable, retry shortly"}, {"Retry-After": str(REDIS_RETRY_AFTER_SECONDS)}
)
KEY_REUSED = Answer(
    422,
    {
        "detail": [
            {
                "loc": ["header", "Idempotency-Key"],
                "msg": "key already used with a different body",
                "type": "idempotency_key_reused",
            }
        ]
    },
)


# A counter's labels() takes a lock and checks its values on every call: the order path keeps the children it uses.
# Only products that exist and the few rejection reasons reach them, so they stay few.
@functools.lru_cache(maxsize=4096)
def _count(counter: Counter, label: str) -> Counter:
    return counter.labels(label)


def store_unavailable(path: str, exc: BaseException) -> Answer:
    metrics.REDIS_ERRORS.inc()
    log.warning("redis unavailable", extra={"path": path, "error": repr(exc)})
    return REDIS_UNAVAILABLE


def limit_reached(refusal: LimitReached) -> Answer:
    _count(metrics.ORDERS_REJECTED_AT_DOOR, "rate_limited").inc()
    return Answer(429, {"detail": "too many requests"}, {"Retry-After": str(refusal.retry_after)})


def order_answer(order: Order, outcome: Queued | Refused, started: float) -> Answer:
    """`started`: the request's time.perf_counter() when its order was read."""
    match outcome:
        case Queued(record=record, replayed=replayed, token=token):
            _count(metrics.ORDERS_RECEIVED, order.sku).inc()
            if not replayed:
                _count(metrics.ORDERS_QUEUED, order.sku).inc()
                log.info(
                    "order queued", extra={"order_id": record.order_id, "sku": record.sku, "position": record.position}
                )
            metrics.PLACE_ORDER_DURATION.observe(time.perf_counter() - started)
            accepted = OrderAcceptedPublic(
                order_id=record.order_id,
                status=record.status,
                sku=record.sku,
                quantity=record.quantity,
                position=record.position,
                token=token,
            )
            return Answer(202, accepted.model_dump(mode="json"), {"Location": f"/orders/{record.order_id}"})
        case SoldOut():
            _count(metrics.ORDERS_RECEIVED, order.sku).inc()
            _count(metrics.ORDERS_REJECTED_AT_DOOR, RejectReason.SOLD_OUT).inc()
            return SOLD_OUT
        case KeyReused():
            _count(metrics.ORDERS_RECEIVED, order.sku).inc()
            _count(metrics.ORDERS_REJECTED_AT_DOOR, "idempotency_key_reused").inc()
            return KEY_REUSED
        case LimitReached():
            return limit_reached(outcome)
        case UnknownProduct():
            # No per-sku label for a product that does not exist: made-up skus must leave nothing behind.
            _count(metrics.ORDERS_REJECTED_AT_DOOR, "unknown_sku").inc()
            return Answer(404, {"detail": f"unknown sku {order.sku!r}"})
    raise TypeError(f"no answer for {outcome!r}")
