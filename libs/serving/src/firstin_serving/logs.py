"""Structured JSON log lines for a firstin service and the uvicorn server that hosts it."""

import logging
import re
from typing import Any

# A token in a URL (`?token=…`, which some clients send instead of a header or the auth payload) must not reach a
# log line: uvicorn logs a websocket's whole path and query, and its access log every request's.
_SECRET_IN_URL = re.compile(r"((?:^|[?&])(?:token|ticket|auth|access_token)=)[^&\s\"]*", re.IGNORECASE)


def redact(text: str) -> str:
    return _SECRET_IN_URL.sub(r"\1[redacted]", text)


class ThrottledWarnings:
    """One WARNING line per `interval` seconds at most, telling how many were left out since the last one: under a
    flood of refused clients the log must not become the cost, yet the first refusal is always told."""

    def __init__(self, logger: logging.Logger, interval: float = 1.0):
        self._logger = logger
        self._interval = interval
        self._quiet_until = float("-inf")
        self._unlogged = 0

    def warning(self, now: float, message: str, *args: object) -> None:
        """`message % args`, unless another line went out less than `interval` before `now` (a monotonic clock)."""
        if now < self._quiet_until:
            self._unlogged += 1
            return
        also = f" (and {self._unlogged} more refused since the last line)" if self._unlogged else ""
        self._logger.warning(message + "%s", *args, also)
        self._quiet_until, self._unlogged = now + self._interval, 0


class RedactSecretsInUrls(logging.Filter):
    """Replaces the value of token-like query parameters in a record's arguments (the URLs uvicorn logs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def logging_config(
    service: str,
    level: str,
    *,
    filters: dict[str, dict[str, Any]] | None = None,
    logger_filters: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """A dictConfig for uvicorn's `log_config`, so the server's own lines are JSON too. `filters` are more
    filters by name, `logger_filters` which of them sit on which logger, besides the URL redaction on uvicorn's."""
    loggers: dict[str, dict[str, Any]] = {
        "uvicorn.access": {"level": "WARNING", "filters": ["redact"]},
        "uvicorn.error": {"filters": ["redact"]},
    }
    for name, names in (logger_filters or {}).items():
        loggers.setdefault(name, {}).setdefault("filters", [])
        loggers[name]["filters"] = [*names, *loggers[name]["filters"]]
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
                "static_fields": {"service": service},
            }
        },
        "filters": {"redact": {"()": RedactSecretsInUrls}, **(filters or {})},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json"}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": loggers,
    }
