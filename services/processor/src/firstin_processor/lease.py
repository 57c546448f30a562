"""One processor decides at a time: a lease in Redis, renewed while held, taken over when it lapses.

Correctness never depends on the lease: every decision is one atomic script call, so two processors
deciding at once still cannot oversell, decide an order twice or break FIFO (tests run exactly that).
The lease keeps a rolling deploy or a double start from wasting Redis time on two busy loops, and lets a
standby take over within 4/3 `ttl` of the holder's death: the lease lapses at most `ttl` after the holder's last
renewal, and a standby tries to take it every third of `ttl`.
"""

import asyncio
import logging
import uuid

from redis.asyncio import Redis
from redis.exceptions import RedisError

from firstin_processor import metrics
from firstin_serving import BackgroundTask

log = logging.getLogger("firstin.processor")

LEASE_KEY = "firstin:processor:lease"

# Renew or release only a lease we still hold (compare-and-set on the holder's id).
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Lease:
    def __init__(self, redis: Redis, *, ttl_seconds: float, holder: str | None = None):
        self._redis = redis
        self._ttl_ms = int(ttl_seconds * 1000)
        self.holder = holder or uuid.uuid4().hex
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self._held = asyncio.Event()
        self._renewal = BackgroundTask(self._keep, "processor-lease")

    @property
    def held(self) -> bool:
        return self._held.is_set()

    async def wait_held(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._held.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def start(self) -> None:
        self._renewal.start()

    async def stop(self) -> None:
        """Stop renewing and hand the lease over at once, so a standby need not wait for it to lapse."""
        await self._renewal.stop()
        if self.held:
            self._set(False)
            try:
                await self._release(keys=[LEASE_KEY], args=[self.holder])
            except RedisError as exc:
                log.warning("could not release the lease", extra={"error": repr(exc)})

    async def _keep(self) -> None:
        interval = self._ttl_ms / 3000
        while True:
            try:
                if self.held:
                    still = await self._renew(keys=[LEASE_KEY], args=[self.holder, self._ttl_ms])
                    if not still:
                        log.warning("lease lost", extra={"holder": self.holder})
                        self._set(False)
                elif await self._redis.set(LEASE_KEY, self.holder, nx=True, px=self._ttl_ms):
                    log.info("lease acquired", extra={"holder": self.holder})
                    self._set(True)
            except (RedisError, OSError) as exc:
                # Without Redis we cannot know whether the lease still stands: stop deciding until we can.
                if self.held:
                    log.warning("lease unknown, pausing", extra={"error": repr(exc)})
                self._set(False)
            await asyncio.sleep(interval)

    def _set(self, held: bool) -> None:
        if held:
            self._held.set()
        else:
            self._held.clear()
        metrics.LEASE_HELD.set(1 if held else 0)
