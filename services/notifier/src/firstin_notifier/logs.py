"""Structured JSON log lines for the notifier and its uvicorn server."""

import logging
import re
from typing import Any

# uvicorn logs one INFO line per websocket it accepts (websockets_sansio_impl.py, on "uvicorn.error"). A drop
# opens thousands of sockets a second: those lines would be most of the notifier's log and a tenth of its CPU
# per connection (bench connects --profile). Refusals and errors are still logged; at DEBUG, everything is.
WEBSOCKET_ACCEPTED = '%s - "WebSocket %s" [accepted]'


class WebsocketAcceptedAtDebug(logging.Filter):
    """Drops uvicorn's line for each accepted websocket unless the log level is DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg != WEBSOCKET_ACCEPTED or logging.getLogger().isEnabledFor(logging.DEBUG)


# A token in a URL (`?token=…`, which some clients send instead of the auth payload) must not reach a log line:
# uvicorn logs the websocket's whole path and query.
_SECRET_IN_URL = re.compile(r"((?:^|[?&])(?:token|auth|access_token)=)[^&\s\"]*", re.IGNORECASE)


def redact(text: str) -> str:
    return _SECRET_IN_URL.sub(r"\1[redacted]", text)


class RedactSecretsInUrls(logging.Filter):
    """Replaces the value of token-like query parameters in a record's arguments (the URLs uvicorn logs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


class ClientErrorsAsOneLine(logging.Filter):
    """engine.io and python-socketio log a malformed packet from a client as an ERROR with a traceback. A client's
    garbage is not the server's error: one WARNING line naming the exception."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None and record.levelno >= logging.ERROR:
            error = record.exc_info[1]
            record.msg = f"{record.getMessage()}: {type(error).__name__}: {str(error)[:200]}"
            record.args = None
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def logging_config(level: str) -> dict[str, Any]:
    """A dictConfig for uvicorn's `log_config`, so the server's own lines are JSON too."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
                "static_fields": {"service": "notifier"},
            }
        },
        "filters": {
            "websocket_accepted": {"()": WebsocketAcceptedAtDebug},
            "redact": {"()": RedactSecretsInUrls},
            "client_errors": {"()": ClientErrorsAsOneLine},
        },
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json"}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn.access": {"level": "WARNING", "filters": ["redact"]},
            "uvicorn.error": {"filters": ["websocket_accepted", "redact"]},
            "engineio.server": {"filters": ["client_errors"]},
            "socketio.server": {"filters": ["client_errors"]},
        },
    }
