"""A process's heartbeat: a small record about it, written to Redis every few seconds under a key that expires
after a few missed beats, and listed in a set. Whoever wants to know which processes are alive (the api's admin
page) reads the set and the keys, without reaching the processes themselves."""

import asyncio
import logging
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from firstin_serving.tasks import BackgroundTask

log = logging.getLogger("firstin.heartbeat")

HEARTBEAT_SECONDS = 2.0
# A record outlives this many missed beats, then expires: the process is gone (or cut off from Redis).
MISSED_BEATS = 3


class Heartbeat:
    def __init__(self, redis: Redis, *, key: str, index: str, record: Callable[[], str]):
        """`record`: the process's record as it stands, called at every beat."""
        self._redis = redis
        self._key = key
        self._index = index
        self._record = record
        self._loop = BackgroundTask(self._beat, f"heartbeat {key}")

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        """Stop beating and remove the record at once: a process that stops is not alive for a while longer."""
        await self._loop.stop()
        try:
            await self._redis.delete(self._key)
        except (RedisError, OSError) as exc:
            log.info("heartbeat not removed, it expires by itself", extra={"error": repr(exc)})

    async def _beat(self) -> None:
        while True:
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.set(self._key, self._record(), px=int(HEARTBEAT_SECONDS * MISSED_BEATS * 1000))
                    pipe.sadd(self._index, self._key)
                    await pipe.execute()
            except (RedisError, OSError) as exc:  # the service says so through its own checks; keep beating
                log.debug("heartbeat not written", extra={"error": repr(exc)})
            await asyncio.sleep(HEARTBEAT_SECONDS)
