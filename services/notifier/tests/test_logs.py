"""uvicorn's line per accepted websocket is dropped below DEBUG; every other line of its logger stays."""

import logging
from pathlib import Path

import pytest
import uvicorn.protocols.websockets.websockets_sansio_impl as sansio

from firstin_notifier.logs import WEBSOCKET_ACCEPTED, WebsocketAcceptedAtDebug, logging_config


def _record(msg: str) -> logging.LogRecord:
    return logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, msg, ("127.0.0.1:5000", "/socket.io/"), None)


@pytest.mark.parametrize("level, kept", [(logging.INFO, False), (logging.DEBUG, True)])
def test_accepted_websocket_lines_are_kept_only_at_debug(level: int, kept: bool) -> None:
    root = logging.getLogger()
    before = root.level
    root.setLevel(level)
    try:
        assert WebsocketAcceptedAtDebug().filter(_record(WEBSOCKET_ACCEPTED)) is kept
        assert WebsocketAcceptedAtDebug().filter(_record('%s - "WebSocket %s" 403'))
    finally:
        root.setLevel(before)


def test_the_filter_matches_what_the_installed_uvicorn_logs() -> None:
    """uvicorn is pinned by the lock file; if its message changes, the filter silently stops filtering."""
    assert repr(WEBSOCKET_ACCEPTED) in Path(sansio.__file__).read_text()


def test_the_filter_sits_on_uvicorns_error_logger() -> None:
    config = logging_config("INFO")
    assert config["loggers"]["uvicorn.error"]["filters"] == ["websocket_accepted", "redact"]
    assert config["loggers"]["uvicorn.access"]["filters"] == ["redact"]
    assert config["loggers"]["engineio.server"]["filters"] == ["origin_refusals", "client_errors"]
