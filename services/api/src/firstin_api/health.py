"""Redis adapter of the services' health, as the admin page shows it: Redis itself, and the processors and
notifiers by the heartbeats they keep in Redis (firstin_serving.Heartbeat). The api reaches no other service: what
it knows of them is what they write."""

import time
from dataclasses import dataclass, field
from typing import cast

from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from firstin_contracts import HEARTBEATS_SET, ServiceHeartbeat


@dataclass(frozen=True, slots=True)
class ServicesHealth:
    redis_ok: bool
    redis_latency_ms: float | None = None
    redis_version: str | None = None
    redis_error: str | None = None
    # Every process whose heartbeat has not expired, by service, oldest first.
    heartbeats: list[ServiceHeartbeat] = field(default_factory=list)

    def of(self, service: str) -> list[ServiceHeartbeat]:
        return [h for h in self.heartbeats if h.service == service]


class HealthStore:
    def __init__(self, redis: Redis):
        self._redis = redis

    async def read(self) -> ServicesHealth:
        """What Redis says, in two round trips; a Redis that cannot be reached is the answer, not an error."""
        try:
            started = time.perf_counter()
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.info("server")
                pipe.smembers(HEARTBEATS_SET)
                info, members = await pipe.execute()
            latency_ms = (time.perf_counter() - started) * 1000
            keys = sorted(cast(bytes, k).decode() for k in members)
            raws = await self._redis.mget(keys) if keys else []  # one slot: they share the set's hash tag
            # An expired record is a process gone: forget its key too.
            gone = [key for key, raw in zip(keys, raws, strict=True) if raw is None]
            if gone:
                await self._redis.srem(HEARTBEATS_SET, *gone)
        except (RedisError, OSError) as exc:
            return ServicesHealth(redis_ok=False, redis_error=type(exc).__name__)
        return ServicesHealth(
            redis_ok=True,
            redis_latency_ms=round(latency_ms, 2),
            redis_version=str(info.get("redis_version")),
            heartbeats=sorted(_heartbeats(raws), key=lambda h: (h.service, h.started_at)),
        )


def _heartbeats(raws: list[bytes | str | None]) -> list[ServiceHeartbeat]:
    found = []
    for raw in raws:
        if raw is None:
            continue
        try:
            found.append(ServiceHeartbeat.model_validate_json(raw))
        except ValidationError:
            continue  # a record this api cannot read is not a reason to show none
    return found
