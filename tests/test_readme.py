"""The README's settings table names every setting each service reads (one source of truth: the classes)."""

from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from firstin_api.settings import ApiSettings
from firstin_notifier.settings import NotifierSettings
from firstin_processor.settings import ProcessorSettings

README = (Path(__file__).parent.parent / "README.md").read_text()


@pytest.mark.parametrize("settings_class", [ApiSettings, ProcessorSettings, NotifierSettings])
def test_every_setting_is_documented(settings_class: type[BaseSettings]) -> None:
    prefix = settings_class.model_config.get("env_prefix", "")
    missing = [
        f"{prefix}{name}".upper()
        for name in settings_class.model_fields
        if f"`{prefix}{name}`".upper().replace("`", "") not in README
    ]
    assert not missing, f"README's settings table lacks {missing}"


def test_readme_shows_the_two_commands_first() -> None:
    first_block = README.split("```sh", 1)[1].split("```", 1)[0]
    assert "make run" in first_block and "make test" in first_block
