"""Secrets in URLs are redacted from the lines uvicorn logs, in every service."""

from firstin_serving.logs import logging_config, redact


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
