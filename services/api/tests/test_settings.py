import pytest
from pydantic import ValidationError

from firstin_api.settings import ApiSettings
from firstin_serving import DEV_ADMIN_TOKEN, DEV_TOKEN_SECRET


def test_dev_mode_starts_with_the_dev_secrets() -> None:
    assert ApiSettings(env="dev").admin_token == DEV_ADMIN_TOKEN


@pytest.mark.parametrize(
    "secrets",
    [
        {},
        {"admin_token": "a-real-admin-token"},
        {"token_secret": "r" * 40},
    ],
)
def test_production_refuses_any_dev_secret(secrets: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="must be set in production"):
        ApiSettings(env="production", **secrets)


def test_production_starts_with_real_secrets() -> None:
    settings = ApiSettings(env="production", admin_token="a-real-admin-token", token_secret="r" * 40)
    assert settings.token_secret != DEV_TOKEN_SECRET


def test_token_secrets_shorter_than_32_characters_are_refused() -> None:
    with pytest.raises(ValidationError, match="token_secret"):
        ApiSettings(token_secret="short")
