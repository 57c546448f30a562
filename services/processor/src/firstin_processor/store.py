"""Redis adapter of the processor: runs decide.lua and reads which lines have work."""

import json
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any, cast

from redis.asyncio import Redis

from firstin_contracts import OUTCOMES_CHANNEL, PRODUCTS_SET, ProductKeys

DECIDE_SCRIPT = files("firstin_processor").joinpath("decide.lua").read_text()


@dataclass(frozen=True, slots=True)
class BatchSummary:
    decided: int = 0
    accepted: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    dead_lettered: dict[str, int] = field(default_factory=dict)
    # Milliseconds each decided order waited between being queued and being decided.
    waits_ms: list[int] = field(default_factory=list)
    remaining: int = 0
    stock_left: int | None = None
    now_serving: int | None = None

    @property
    def popped(self) -> int:
        return self.decided + sum(self.dead_lettered.values())

    @classmethod
    def from_script(cls, raw: bytes | str) -> "BatchSummary":
        data: dict[str, Any] = json.loads(raw)

        # cjson encodes an empty Lua table as {} whatever it was meant to be.
        def as_dict(value: Any) -> dict[str, int]:
            return {k: int(v) for k, v in value.items()} if isinstance(value, dict) else {}

        waits = data.get("waits")
        return cls(
            decided=int(data["decided"]),
            accepted=int(data["accepted"]),
            rejected=as_dict(data.get("rejected")),
            dead_lettered=as_dict(data.get("dead")),
            waits_ms=[int(w) for w in waits] if isinstance(waits, list) else [],
            remaining=int(data.get("remaining", 0)),
            stock_left=int(data["stock_left"]) if "stock_left" in data else None,
            now_serving=int(data["now_serving"]) if "now_serving" in data else None,
        )


class DecisionStore:
    def __init__(self, redis: Redis, *, batch_size: int, max_message_bytes: int, dead_letters_kept: int):
        self._redis = redis
        self._decide = redis.register_script(DECIDE_SCRIPT)
        self._batch_size = batch_size
        self._max_message_bytes = max_message_bytes
        self._dead_letters_kept = dead_letters_kept

    async def decide_batch(self, sku: str) -> BatchSummary:
        keys = ProductKeys(sku)
        raw = await self._decide(
            keys=[keys.queue, keys.product, keys.orders, keys.bought, keys.dead_letters, keys.rounds],
            args=[sku, self._batch_size, OUTCOMES_CHANNEL, self._max_message_bytes, self._dead_letters_kept],
        )
        return BatchSummary.from_script(raw)

    async def lines_with_work(self) -> dict[str, int]:
        """Queue length of every known product whose line is not empty."""
        skus = sorted(cast(bytes, s).decode() for s in await self._redis.smembers(PRODUCTS_SET))
        if not skus:
            return {}
        async with self._redis.pipeline(transaction=False) as pipe:
            for sku in skus:
                pipe.llen(ProductKeys(sku).queue)
            lengths = await pipe.execute()
        return {sku: int(n) for sku, n in zip(skus, lengths, strict=True) if n}

    async def ping(self) -> bool:
        return bool(await self._redis.ping())
