from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from firstin_serving import ServingSettings

DEV_TOKEN_SECRET = "dev-token-secret-change-me-0123456789abcdef"


class NotifierSettings(ServingSettings):
    """Every setting of the notifier, read from FIRSTIN_* environment variables."""

    model_config = SettingsConfigDict(env_prefix="FIRSTIN_", extra="ignore")

    env: Literal["dev", "production"] = "dev"
    redis_url: str = "redis://127.0.0.1:6379/0"
    notifier_host: str = "127.0.0.1"
    notifier_port: int = Field(default=8001, ge=1, le=65535)
    # Shared with the api, which signs the buyer tokens with it.
    token_secret: str = Field(default=DEV_TOKEN_SECRET, min_length=32)
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
    redis_timeout_seconds: float = Field(default=2.0, gt=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @model_validator(mode="before")
    @classmethod
    def _split_origins(cls, data: dict[str, object]) -> dict[str, object]:
        origins = data.get("cors_allowed_origins")
        if isinstance(origins, str):
            data["cors_allowed_origins"] = [o.strip() for o in origins.split(",") if o.strip()]
        return data

    @model_validator(mode="after")
    def _no_dev_secrets(self) -> "NotifierSettings":
        if self.env == "production" and self.token_secret == DEV_TOKEN_SECRET:
            raise ValueError("FIRSTIN_TOKEN_SECRET must be set in production")
        return self


@lru_cache
def get_settings() -> NotifierSettings:
    return NotifierSettings()
