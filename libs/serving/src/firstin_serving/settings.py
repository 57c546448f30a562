import ipaddress
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from firstin_serving.http_protocol import HttpLimits

# The dev defaults of the two secrets; usable only with FIRSTIN_ENV=dev (see BuyerTokenSettings).
DEV_ADMIN_TOKEN = "dev-admin-token-change-me"
DEV_TOKEN_SECRET = "dev-token-secret-change-me-0123456789abcdef"


class ServingSettings(BaseSettings):
    """The settings every firstin service has, read from FIRSTIN_* environment variables."""

    model_config = SettingsConfigDict(env_prefix="FIRSTIN_", extra="ignore")

    redis_url: str = "redis://127.0.0.1:6379/0"
    # Connect and read timeout of every Redis call: an outage becomes an error answer, not a hang.
    redis_timeout_seconds: float = Field(default=2.0, gt=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # Addresses or CIDR ranges of the reverse proxies in front of this service, comma-separated; only their
    # X-Forwarded-For / X-Forwarded-Proto are believed (uvicorn's forwarded_allow_ips). Empty: nobody's, not even
    # loopback's, so a client cannot pick its own address for the per-IP limit by sending the header.
    trusted_proxies: Annotated[list[str], NoDecode] = []
    # A request line and headers larger than this, or with more headers than that: 431, connection closed.
    http_max_header_bytes: int = Field(default=16_384, ge=1_024, le=1_048_576)
    http_max_headers: int = Field(default=100, ge=10, le=1_000)
    # How long a request's head may take from its first byte, and its body from the end of the head: 408 after.
    http_header_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    http_body_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    # How long a connection may sit idle before its first request or between two (uvicorn's keep-alive timeout).
    http_keep_alive_seconds: float = Field(default=5.0, gt=0, le=300)

    # Who may read /metrics: direct connections from these addresses or CIDR ranges (comma-separated), never a
    # request that came through a proxy. The default is loopback and the private ranges clusters use.
    metrics_allowed_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]
    )

    @field_validator("trusted_proxies", "metrics_allowed_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            for part in value:
                ipaddress.ip_network(str(part), strict=False)  # ValueError names a bad entry
        return value

    def http_limits(self) -> HttpLimits:
        return HttpLimits(
            max_head_bytes=self.http_max_header_bytes,
            max_headers=self.http_max_headers,
            head_timeout=self.http_header_timeout_seconds,
            body_timeout=self.http_body_timeout_seconds,
        )


class BuyerTokenSettings(ServingSettings):
    """The settings of the services that sign or check buyer tokens (the api and the notifier)."""

    env: Literal["dev", "production"] = "dev"
    # The api signs buyer tokens with it, the notifier checks them: both must have the same.
    token_secret: str = Field(default=DEV_TOKEN_SECRET, min_length=32)

    @model_validator(mode="after")
    def _no_dev_token_secret(self) -> "BuyerTokenSettings":
        if self.env == "production" and self.token_secret == DEV_TOKEN_SECRET:
            raise ValueError("FIRSTIN_TOKEN_SECRET must be set in production")
        return self
