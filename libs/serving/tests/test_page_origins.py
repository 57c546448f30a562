"""FIRSTIN_CORS_ALLOWED_ORIGINS, read by the api and the notifier alike: entries a browser's Origin can match."""

import pytest
from pydantic import ValidationError

from firstin_serving import PageOriginSettings


def test_origins_are_read_comma_separated_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIRSTIN_CORS_ALLOWED_ORIGINS", " https://shop.example, http://localhost:3000 ,")
    assert PageOriginSettings().cors_allowed_origins == ["https://shop.example", "http://localhost:3000"]


def test_the_default_is_the_demo_page_and_never_any_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FIRSTIN_CORS_ALLOWED_ORIGINS", raising=False)
    assert PageOriginSettings().cors_allowed_origins == ["http://127.0.0.1:8000", "http://localhost:8000"]


def test_any_page_only_when_asked() -> None:
    assert PageOriginSettings(cors_allowed_origins="*").cors_allowed_origins == ["*"]


@pytest.mark.parametrize(
    "entry",
    [
        "http://localhost:3000/",  # a trailing slash: browsers never send one
        "https://shop.example/checkout",
        "localhost:3000",
        "shop.example",
        "http://localhost:port",
        "https://user@shop.example",
        "https://shop.example?x=1",
    ],
)
def test_an_entry_no_browser_would_send_stops_the_start_naming_it(entry: str) -> None:
    with pytest.raises(ValidationError, match="cors_allowed_origins") as raised:
        PageOriginSettings(cors_allowed_origins=f"https://fine.example,{entry}")
    assert "is not an origin" in str(raised.value) or "Port" in str(raised.value)
