"""The heartbeat on a real Redis: written at once and listed, expiring unless renewed, removed when it stops."""

import asyncio
import uuid
from collections.abc import Callable

from redis.asyncio import Redis

from firstin_serving import Heartbeat
from firstin_serving.heartbeat import HEARTBEAT_SECONDS, MISSED_BEATS
from firstin_stack import RedisServer


async def _read(redis: Redis, key: str, done: Callable[[bytes | None], bool], timeout: float) -> bytes | None:
    """The key's value once `done` holds for it, polled with a deadline."""
    deadline = asyncio.get_running_loop().time() + timeout
    value = await redis.get(key)
    while not done(value):
        assert asyncio.get_running_loop().time() < deadline, f"not within {timeout}s: {key} is {value!r}"
        await asyncio.sleep(0.02)
        value = await redis.get(key)
    return value


async def test_a_heartbeat_is_written_listed_renewed_and_removed(firstin_redis: RedisServer) -> None:
    redis = Redis.from_url(firstin_redis.url)
    index, key = f"test:{{hb}}:{uuid.uuid4().hex}", f"test:{{hb}}:{uuid.uuid4().hex}:one"
    beats = iter(range(1000))
    heartbeat = Heartbeat(redis, key=key, index=index, record=lambda: f"beat {next(beats)}")
    heartbeat.start()
    try:
        assert await _read(redis, key, lambda value: value is not None, timeout=5) == b"beat 0"
        assert await redis.smembers(index) == {key.encode()}
        assert 0 < await redis.pttl(key) <= HEARTBEAT_SECONDS * MISSED_BEATS * 1000
        # The record as it stands at each beat.
        assert await _read(redis, key, lambda value: value != b"beat 0", HEARTBEAT_SECONDS * 2) == b"beat 1"
    finally:
        await heartbeat.stop()
    assert await redis.get(key) is None, "a process that stops is not alive for a while longer"
    await redis.aclose()
