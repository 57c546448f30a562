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


def test_the_young_generation_threshold_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert NotifierSettings().gc_young_threshold == 100_000
    monkeypatch.setenv("FIRSTIN_GC_YOUNG_THRESHOLD", "10000")
    assert NotifierSettings().gc_young_threshold == 10_000
    monkeypatch.setenv("FIRSTIN_GC_YOUNG_THRESHOLD", "10")
    with pytest.raises(ValidationError, match="gc_young_threshold"):
        NotifierSettings()
