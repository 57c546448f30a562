"""Structured JSON log lines for the notifier and its uvicorn server."""

import logging
from typing import Any

# uvicorn logs one INFO line per websocket it accepts (websockets_sansio_impl.py, on "uvicorn.error"). A drop
# opens thousands of sockets a second: those lines would be most of the notifier's log and a tenth of its CPU
# per connection (bench connects --profile). Refusals and errors are still logged; at DEBUG, everything is.
WEBSOCKET_ACCEPTED = '%s - "WebSocket %s" [accepted]'


class WebsocketAcceptedAtDebug(logging.Filter):
    """Drops uvicorn's line for each accepted websocket unless the log level is DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg != WEBSOCKET_ACCEPTED or logging.getLogger().isEnabledFor(logging.DEBUG)


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
        "filters": {"websocket_accepted": {"()": WebsocketAcceptedAtDebug}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json"}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {"uvicorn.access": {"level": "WARNING"}, "uvicorn.error": {"filters": ["websocket_accepted"]}},
    }
