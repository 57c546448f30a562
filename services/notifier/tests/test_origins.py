"""Which pages may open a socket, and what the notifier says when one may not."""

import logging
from pathlib import Path
from typing import Any

import engineio.async_server
import pytest

from firstin_notifier.logs import OriginRefusalsOnce
from firstin_notifier.origins import ENGINEIO_REFUSAL, PageOrigins


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_listed_origins_are_allowed_and_others_refused() -> None:
    origins = PageOrigins(["https://shop.example", "http://localhost:3000"])
    assert origins("https://shop.example", {}) and origins("http://localhost:3000", {})
    assert not origins("https://evil.example", {})
    assert not origins("https://shop.example:443", {})  # an origin is matched exactly, as browsers send it


def test_a_request_without_origin_is_not_a_page_and_not_a_refusal(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert not PageOrigins(["https://shop.example"])(None, {})
    assert not caplog.records


def test_star_allows_every_page() -> None:
    assert PageOrigins(["*"])("https://anywhere.example", {})


def test_a_refusal_names_the_origin_and_the_setting_once_per_request(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    origins = PageOrigins(["https://shop.example"], clock=clock)
    environ: dict[str, Any] = {}
    with caplog.at_level(logging.WARNING, logger="firstin.notifier"):
        assert not origins("http://localhost:3000", environ)
        clock.now += 5
        assert not origins("http://localhost:3000", environ)  # engine.io asks again for the same request
    (line,) = [r.getMessage() for r in caplog.records]
    assert "http://localhost:3000" in line and "FIRSTIN_CORS_ALLOWED_ORIGINS" in line, line
    assert "https://shop.example" in line, line  # what is allowed, to compare with


def test_a_crowd_of_refused_pages_makes_one_line_a_second(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    origins = PageOrigins(["https://shop.example"], clock=clock)
    with caplog.at_level(logging.WARNING, logger="firstin.notifier"):
        for i in range(1000):
            clock.now = i / 1000
            origins(f"https://page-{i}.example", {})
        clock.now = 1.0
        origins("https://late.example", {})
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert "https://page-0.example" in lines[0]
    assert "https://late.example" in lines[1] and "999 more" in lines[1]


def test_engineio_own_refusal_line_is_dropped_and_nothing_else() -> None:
    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("engineio.server", logging.ERROR, __file__, 1, message, None, None)

    refusal = record("https://evil.example is not an accepted origin. (further occurrences of this error ...)")
    assert not OriginRefusalsOnce().filter(refusal)
    assert OriginRefusalsOnce().filter(record("Invalid session abc"))


def test_the_dropped_line_is_what_the_installed_engineio_logs() -> None:
    """engine.io is pinned by the lock file; if its wording changes, its line would come back beside ours."""
    assert f"' {ENGINEIO_REFUSAL}'" in Path(engineio.async_server.__file__).read_text()
