import pytest
from pydantic import ValidationError

from firstin_notifier.settings import NotifierSettings


def test_production_refuses_the_dev_token_secret() -> None:
    with pytest.raises(ValidationError, match="must be set in production"):
        NotifierSettings(env="production")


def test_cors_origins_are_read_comma_separated_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIRSTIN_CORS_ALLOWED_ORIGINS", "https://shop.example, https://www.shop.example")
    assert NotifierSettings().cors_allowed_origins == ["https://shop.example", "https://www.shop.example"]
    monkeypatch.delenv("FIRSTIN_CORS_ALLOWED_ORIGINS")
    assert "*" not in NotifierSettings().cors_allowed_origins
