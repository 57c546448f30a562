from functools import lru_cache

from pydantic import Field

from firstin_serving import BuyerTokenSettings, PageOriginSettings


class NotifierSettings(BuyerTokenSettings, PageOriginSettings):
    """Every setting of the notifier, read from FIRSTIN_* environment variables."""

    notifier_host: str = "127.0.0.1"
    notifier_port: int = Field(default=8001, ge=1, le=65535)
    # How many of the buyer's latest orders are replayed to a socket when it connects.
    replay_orders: int = Field(default=50, ge=0)
    # How long a "pending, #k in line" event waits; an order decided meanwhile sends its decision alone (pending.py).
    # 0 sends every pending event at once.
    pending_event_delay_seconds: float = Field(default=0.1, ge=0, le=5)
    # The largest HTTP body (a long-polling POST) or websocket message a client may send; larger: 413, or the
    # socket closed. A client sends its token and pongs: a few hundred bytes.
    max_message_bytes: int = Field(default=16_384, ge=1_024, le=1_000_000)
    # Allocations between two young-generation collections (Python's default: 700). Thousands of long-lived sockets
    # make collections costly, so they run rarely; each young one then takes 30-60 ms while sockets pour in
    # (docs/benchmarks.md): lower it for shorter pauses, at the price of more of them.
    gc_young_threshold: int = Field(default=100_000, ge=700, le=10_000_000)


@lru_cache
def get_settings() -> NotifierSettings:
    return NotifierSettings()
