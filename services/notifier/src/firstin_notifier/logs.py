"""The notifier's own log filters, on top of the JSON lines every firstin service writes."""

import logging
from typing import Any

from firstin_notifier.origins import ENGINEIO_REFUSAL
from firstin_serving.logs import logging_config as shared_logging_config

# uvicorn logs one INFO line per websocket it accepts (websockets_sansio_impl.py, on "uvicorn.error"). A drop
# opens thousands of sockets a second: those lines would be most of the notifier's log and a tenth of its CPU
# per connection (bench connects --profile). Refusals and errors are still logged; at DEBUG, everything is.
WEBSOCKET_ACCEPTED = '%s - "WebSocket %s" [accepted]'


class WebsocketAcceptedAtDebug(logging.Filter):
    """Drops uvicorn's line for each accepted websocket unless the log level is DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg != WEBSOCKET_ACCEPTED or logging.getLogger().isEnabledFor(logging.DEBUG)


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


class OriginRefusalsOnce(logging.Filter):
    """Drops engine.io's own line for a refused origin: origins.py logs each refusal with the setting to change."""

    def filter(self, record: logging.LogRecord) -> bool:
        return ENGINEIO_REFUSAL not in record.getMessage()


def logging_config(level: str) -> dict[str, Any]:
    return shared_logging_config(
        "notifier",
        level,
        filters={
            "websocket_accepted": {"()": WebsocketAcceptedAtDebug},
            "client_errors": {"()": ClientErrorsAsOneLine},
            "origin_refusals": {"()": OriginRefusalsOnce},
        },
        logger_filters={
            "uvicorn.error": ["websocket_accepted"],
            "engineio.server": ["origin_refusals", "client_errors"],
            "socketio.server": ["client_errors"],
        },
    )
