from functools import lru_cache
from typing import Annotated

from pydantic import Field, model_validator
from pydantic_settings import NoDecode

from firstin_serving import BuyerTokenSettings


class NotifierSettings(BuyerTokenSettings):
    """Every setting of the notifier, read from FIRSTIN_* environment variables."""

    notifier_host: str = "127.0.0.1"
    notifier_port: int = Field(default=8001, ge=1, le=65535)
    # Origins allowed to open a socket (comma-separated); the dev default is the demo page.
    cors_allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://127.0.0.1:8000", "http://localhost:8000"]
    )
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

    @model_validator(mode="before")
    @classmethod
    def _split_origins(cls, data: dict[str, object]) -> dict[str, object]:
        origins = data.get("cors_allowed_origins")
        if isinstance(origins, str):
            data["cors_allowed_origins"] = [o.strip() for o in origins.split(",") if o.strip()]
        return data


@lru_cache
def get_settings() -> NotifierSettings:
    return NotifierSettings()
