"""Prometheus metrics of the api. With several uvicorn workers they are aggregated across processes
(prometheus_client multiprocess mode, PROMETHEUS_MULTIPROC_DIR set by `python -m firstin_api`)."""

import os

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, make_asgi_app, multiprocess
from starlette.types import ASGIApp

ORDERS_RECEIVED = Counter("firstin_api_orders_received_total", "Valid order requests received.", ["sku"])
ORDERS_QUEUED = Counter("firstin_api_orders_queued_total", "Orders queued for a decision.", ["sku"])
ORDERS_REJECTED_AT_DOOR = Counter(
    "firstin_api_orders_rejected_at_door_total", "Orders refused before queueing, by reason.", ["reason"]
)
REDIS_ERRORS = Counter("firstin_api_redis_errors_total", "Requests that failed because Redis was unreachable.")
PLACE_ORDER_DURATION = Histogram(
    "firstin_api_place_order_duration_seconds",
    "Time to answer an order request.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
)

ORDER_GROUP_SIZE = Histogram(
    "firstin_api_order_group_size",
    "Orders sent to Redis together in one group (group_commit.py); it grows with the load.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)


def metrics_app() -> ASGIApp:
    return make_asgi_app(_registry())


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


def door_refusals() -> dict[str, int]:
    """Orders refused at the door by this api since it started, by reason, summed over its workers (what
    /metrics says, for the admin page, which cannot read /metrics)."""
    (family,) = ORDERS_REJECTED_AT_DOOR.describe()
    counts: dict[str, int] = {}
    for metric in _registry().collect():
        if metric.name == family.name:
            for sample in metric.samples:
                if sample.name == f"{family.name}_total":
                    reason = sample.labels["reason"]
                    counts[reason] = counts.get(reason, 0) + int(sample.value)
    return counts
