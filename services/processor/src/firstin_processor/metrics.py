"""Prometheus metrics of the processor (served on /metrics of its health port)."""

from prometheus_client import Counter, Gauge, Histogram

DECISIONS = Counter(
    "firstin_processor_decisions_total", "Orders decided, by product, outcome and reason.", ["sku", "outcome", "reason"]
)
DEAD_LETTERS = Counter(
    "firstin_processor_dead_letters_total", "Queued messages set aside undecided, by reason.", ["sku", "reason"]
)
DECISION_WAIT = Histogram(
    "firstin_processor_decision_wait_seconds",
    "Time from an order being queued to its decision.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BATCH_DURATION = Histogram(
    "firstin_processor_batch_duration_seconds",
    "Duration of one decide-batch call to Redis.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
)
QUEUE_LENGTH = Gauge("firstin_processor_queue_length", "Orders waiting in the product's line.", ["sku"])
STOCK_LEFT = Gauge("firstin_processor_stock_left", "Stock left after the last decision.", ["sku"])
REDIS_ERRORS = Counter("firstin_processor_redis_errors_total", "Redis calls that failed.")
LEASES_HELD = Gauge("firstin_processor_leases_held", "Products whose lease this processor holds: it decides them.")
