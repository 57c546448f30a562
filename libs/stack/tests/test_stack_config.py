"""The pages a stack (`make run`, the test fixtures) lets call the api and open sockets."""

from pathlib import Path

import pytest

from firstin_stack import StackConfig


def test_the_demo_page_alone_when_the_environment_lists_none(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("FIRSTIN_CORS_ALLOWED_ORIGINS", raising=False)
    config = StackConfig(redis_url="redis://127.0.0.1:1/0", api_port=8000, log_dir=tmp_path)
    assert config.env()["FIRSTIN_CORS_ALLOWED_ORIGINS"] == "http://127.0.0.1:8000,http://localhost:8000"


def test_the_pages_the_environment_lists_are_added_to_the_demo_page(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FIRSTIN_CORS_ALLOWED_ORIGINS", "http://localhost:3000, http://localhost:8000")
    config = StackConfig(redis_url="redis://127.0.0.1:1/0", api_port=8000, log_dir=tmp_path)
    assert config.env()["FIRSTIN_CORS_ALLOWED_ORIGINS"] == (
        "http://127.0.0.1:8000,http://localhost:8000,http://localhost:3000"
    )


def test_a_stack_can_name_its_pages_itself(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FIRSTIN_CORS_ALLOWED_ORIGINS", "http://localhost:3000")
    config = StackConfig(
        redis_url="redis://127.0.0.1:1/0", api_port=8000, cors_allowed_origins=["https://a.example"], log_dir=tmp_path
    )
    assert config.page_origins == ["http://127.0.0.1:8000", "http://localhost:8000", "https://a.example"]
