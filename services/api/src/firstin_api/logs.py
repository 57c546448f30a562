"""Structured JSON log lines for the api and its uvicorn server."""

from typing import Any


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
                "static_fields": {"service": "api"},
            }
        },
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json"}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {"uvicorn.access": {"level": "WARNING"}},
    }
