"""Which processor decides which product: a lease per product, in Redis, in the product's own slot.

Any number of processors share the products. A processor takes a product's lease when it finds work in that line
and the lease is free, renews every lease it holds each third of a TTL, and lets a lease go once the line has
stayed empty for a TTL (or at once when it stops), so another processor can take it. When several processors are
woken for the same product, the one holding fewer leases reaches for it first: a campaign's products spread over
the processors without a registry of who is alive.

Correctness never depends on the lease: every decision is one atomic script call, so two processors deciding one
product at once still cannot oversell, decide an order twice or break FIFO (tests run exactly that). The lease
keeps two processors from wasting Redis time on the same line, and bounds a takeover: a dead holder's lease lapses
at most one TTL after its last renewal, and the others look for work at every poll.
"""

import asyncio
import logging
import time
import uuid

from redis.asyncio import Redis
from redis.exceptions import RedisError

from firstin_contracts import ProductKeys
from firstin_processor import metrics
from firstin_serving import BackgroundTask

log = logging.getLogger("firstin.processor")

# Take a free lease, or one we hold already (after a Redis error we stop deciding until we know).
_TAKE = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""
# Renew or release only a lease we still hold (compare-and-set on the holder's id).
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# A processor holding k leases waits k times this before reaching for another (capped at a tenth of a TTL).
SPREAD_DELAY_SECONDS = 0.005


class ProductLeases:
    def __init__(self, redis: Redis, *, ttl_seconds: float, holder: str | None = None):
        self._redis = redis
        self._ttl_ms = int(ttl_seconds * 1000)
        self.holder = holder or uuid.uuid4().hex
        self._take = redis.register_script(_TAKE)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        # sku -> monotonic time since which its line has been empty (None while it has work).
        self._held: dict[str, float | None] = {}
        self._renewal = BackgroundTask(self._keep, "processor-leases")

    def holds(self, sku: str) -> bool:
        return sku in self._held

    @property
    def held(self) -> frozenset[str]:
        return frozenset(self._held)

    def start(self) -> None:
        self._renewal.start()

    async def take(self, sku: str) -> bool:
        """True when this processor holds the product's lease (already, or taken now)."""
        if sku in self._held:
            return True
        if self._held:
            await asyncio.sleep(min(SPREAD_DELAY_SECONDS * len(self._held), self._ttl_ms / 10_000))
        if not await self._take(keys=[ProductKeys(sku).lease], args=[self.holder, self._ttl_ms]):
            return False
        log.info("lease taken", extra={"sku": sku, "holder": self.holder})
        self._held[sku] = None
        self._count()
        return True

    def line_empty(self, sku: str) -> None:
        if sku in self._held and self._held[sku] is None:
            self._held[sku] = time.monotonic()

    def line_busy(self, sku: str) -> None:
        if sku in self._held:
            self._held[sku] = None

    async def stop(self) -> None:
        """Stop renewing and hand every lease over at once, so others need not wait for them to lapse."""
        await self._renewal.stop()
        for sku in list(self._held):
            await self._let_go(sku)

    async def _let_go(self, sku: str) -> None:
        self._held.pop(sku, None)
        self._count()
        try:
            await self._release(keys=[ProductKeys(sku).lease], args=[self.holder])
        except RedisError as exc:
            log.warning("could not release a lease", extra={"sku": sku, "error": repr(exc)})

    async def _keep(self) -> None:
        interval = self._ttl_ms / 3000
        while True:
            await asyncio.sleep(interval)
            idle_since = time.monotonic() - self._ttl_ms / 1000
            for sku, empty_since in list(self._held.items()):
                if empty_since is not None and empty_since < idle_since:
                    await self._let_go(sku)
                    continue
                try:
                    still = await self._renew(keys=[ProductKeys(sku).lease], args=[self.holder, self._ttl_ms])
                except (RedisError, OSError) as exc:
                    # Without Redis we cannot know whether the lease still stands: stop deciding until we can.
                    log.warning("lease unknown, pausing the product", extra={"sku": sku, "error": repr(exc)})
                    still = False
                if not still:
                    log.warning("lease lost", extra={"sku": sku, "holder": self.holder})
                    self._held.pop(sku, None)
                    self._count()

    def _count(self) -> None:
        metrics.LEASES_HELD.set(len(self._held))
