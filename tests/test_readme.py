"""The README names every setting each service reads and every metric it exports (one source of truth: the
code)."""

import re
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


@pytest.mark.parametrize("service", ["api", "processor", "notifier"])
def test_every_metric_is_documented(service: str) -> None:
    sources = Path(__file__).parent.parent / "services" / service / "src" / f"firstin_{service}"
    names = {m for f in sources.glob("*.py") for m in re.findall(r'"(firstin_[a-z_]+)"', f.read_text())}
    names.discard(f"firstin_{service}")  # the package name (importlib.resources.files), not a metric
    assert names, "no metric found"
    missing = sorted(n for n in names if f"`{n}" not in README)
    assert not missing, f"README's metrics table lacks {missing}"
