from functools import lru_cache

from pydantic import Field, model_validator

from firstin_serving import DEV_ADMIN_TOKEN, BuyerTokenSettings, PageOriginSettings


class ApiSettings(BuyerTokenSettings, PageOriginSettings):
    """Every setting of the api, read from FIRSTIN_* environment variables."""

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    api_workers: int = Field(default=2, ge=1, le=64)
    admin_token: str = DEV_ADMIN_TOKEN
    token_ttl_seconds: int = Field(default=4 * 3600, ge=60)
    # Where browsers reach the notifier; the demo page reads it from /config.
    notifier_public_url: str = "http://127.0.0.1:8001"
    max_body_bytes: int = Field(default=4096, ge=256)
    idempotency_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    # How many of a buyer's latest orders the notifier replays on connect.
    recent_orders_kept: int = Field(default=50, ge=1)
    # Abuse limits on POST /orders, /buy and /sessions, per minute, shared by every api replica (0 = off).
    # Per IP is generous: many buyers can share one address (carrier NAT, offices).
    rate_limit_per_ip: int = Field(default=600, ge=0)
    rate_limit_per_email: int = Field(default=20, ge=0)
    # How stale the sold-out fast path may be: a door that reopens (restock, rejections) is seen this late.
    door_cache_seconds: float = Field(default=0.1, ge=0)
    # Redis connections per api worker; requests beyond wait (up to the timeout) for one to free up. Few are
    # plenty (a Redis call takes tens of microseconds), and fewer orders in flight between the door check and
    # the enqueue means fewer slip past a door that is closing (bench stampede: 20 beyond the stock at 16, 57 at 64).
    redis_max_connections: int = Field(default=16, ge=1)
    # A response's head and body in one socket write instead of uvicorn's two (http_protocol.py).
    http_coalesce_responses: bool = True

    @model_validator(mode="after")
    def _no_dev_admin_token(self) -> "ApiSettings":
        if self.env == "production" and self.admin_token == DEV_ADMIN_TOKEN:
            raise ValueError("FIRSTIN_ADMIN_TOKEN must be set in production")
        return self


@lru_cache
def get_settings() -> ApiSettings:
    return ApiSettings()
