import ipaddress
from collections.abc import Callable
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from firstin_serving.http_protocol import HttpLimits

# The dev defaults of the two secrets; usable only with FIRSTIN_ENV=dev (see BuyerTokenSettings).
DEV_ADMIN_TOKEN = "dev-admin-token-change-me"
DEV_TOKEN_SECRET = "dev-token-secret-change-me-0123456789abcdef"


def comma_separated(value: object, check: Callable[[str], object]) -> object:
    """A list setting as the environment gives it ("a, b,c"), each entry passed to `check`, which raises
    ValueError on a bad one (pydantic then names the setting)."""
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list):
        for part in value:
            check(str(part))
    return value


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
        return comma_separated(value, lambda part: ipaddress.ip_network(part, strict=False))  # names a bad entry

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


class PageOriginSettings(BaseSettings):
    """The origins of the web pages allowed to talk to firstin from a browser, for the two services browsers reach:
    the api answers their CORS requests, the notifier accepts their sockets. One setting for both, so that a page
    works with both or with neither."""

    model_config = SettingsConfigDict(env_prefix="FIRSTIN_", extra="ignore")

    # Comma-separated `scheme://host[:port]`, exactly as browsers send them in `Origin`; `*` allows any page. The
    # dev default is the demo page, which the api serves on its own port.
    cors_allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://127.0.0.1:8000", "http://localhost:8000"]
    )

    @field_validator("cors_allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        return comma_separated(value, _check_origin)


def _check_origin(origin: str) -> None:
    """A browser's `Origin` has no path, not even a trailing slash: an entry with one would never match, and the
    pages it names would be refused for no visible reason. Such an entry fails the start instead."""
    if origin == "*":
        return
    parts = urlsplit(origin)
    if not parts.scheme or not parts.netloc or parts.path or parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(f"{origin!r} is not an origin: write scheme://host[:port], e.g. https://shop.example")
    parts.port  # noqa: B018  # raises ValueError naming a port that is not a number
