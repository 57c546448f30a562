"""Prometheus metrics of the notifier."""

from prometheus_client import Counter, Gauge, Histogram

CONNECTED_SOCKETS = Gauge(
    "firstin_notifier_connected_sockets",
    "Sockets connected: with a valid buyer token, or watching a product without one.",
)
CONNECTIONS_REFUSED = Counter(
    "firstin_notifier_connections_refused_total", "Connections refused, by reason.", ["reason"]
)
EVENTS_EMITTED = Counter(
    "firstin_notifier_events_emitted_total", "Order events emitted to buyer rooms, by kind.", ["kind"]
)
DELIVERY_DELAY = Histogram(
    "firstin_notifier_delivery_delay_seconds",
    "Time from a decision in Redis to its emit to the buyer's room.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
REDIS_ERRORS = Counter("firstin_notifier_redis_errors_total", "Redis calls that failed.")
PENDING_SUPERSEDED = Counter(
    "firstin_notifier_pending_events_superseded_total",
    "Pending events not sent because the order was decided while they waited (its decision went alone).",
)
REPLAYS = Counter(
    "firstin_notifier_replays_total",
    "Replays finished: a socket was sent the current state of its session's recent orders, then `replayed`.",
)
