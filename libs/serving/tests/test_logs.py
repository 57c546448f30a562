"""Every service's log lines: secrets in URLs redacted, floods of refusals told in one line a second."""

import logging

import pytest

from firstin_serving.logs import ThrottledWarnings, logging_config, redact


def test_tokens_in_urls_are_redacted() -> None:
    assert redact("/socket.io/?EIO=4&token=eyJ.abc.def&transport=websocket") == (
        "/socket.io/?EIO=4&token=[redacted]&transport=websocket"
    )
    assert redact("/admin/stream?TOKEN=s3cret") == "/admin/stream?TOKEN=[redacted]"
    assert redact("/socket.io/?EIO=4&transport=websocket") == "/socket.io/?EIO=4&transport=websocket"
    assert redact("/admin/stream?ticket=abc.def") == "/admin/stream?ticket=[redacted]"


def test_every_service_redacts_uvicorns_lines_and_logs_json() -> None:
    config = logging_config("api", "INFO")
    assert config["loggers"]["uvicorn.access"]["filters"] == ["redact"]
    assert config["loggers"]["uvicorn.error"]["filters"] == ["redact"]
    assert config["formatters"]["json"]["static_fields"] == {"service": "api"}


def test_throttled_warnings_tell_the_first_and_count_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    warnings = ThrottledWarnings(logging.getLogger("firstin.test"), interval=1.0)
    with caplog.at_level(logging.WARNING, logger="firstin.test"):
        warnings.warning(100.0, "refused %s", "a")
        for i in range(5):
            warnings.warning(100.1 + i / 10, "refused %s", "b")
        warnings.warning(101.0, "refused %s", "c")
        warnings.warning(101.5, "refused %s", "d")
    assert [r.getMessage() for r in caplog.records] == [
        "refused a",
        "refused c (and 5 more refused since the last line)",
    ]
    assert {r.levelno for r in caplog.records} == {logging.WARNING}
