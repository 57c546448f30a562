"""The notifier's subscription to queued orders, decided outcomes and line progress (Redis pub/sub), with
catch-up after any outage.

Pub/sub delivers only to connected subscribers: outcomes published while the subscription was down are not
redelivered. So after every resubscription (confirmed by Redis) the notifier re-reads the order records of
every connected buyer, which are the source of truth; anything published after the confirmation arrives
live. Together they leave no gap. FastStream's channel subscriber reconnects too, but silently and after a
fixed 5 s back-off, which gives no point to hang the catch-up on; hence this small loop of our own.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from firstin_contracts import (
    OUTCOMES_CHANNEL,
    PROGRESS_CHANNEL,
    QUEUED_CHANNEL,
    OrderQueued,
    OrdersDecided,
    ProgressUpdated,
)
from firstin_notifier import metrics
from firstin_serving import BackgroundTask

log = logging.getLogger("firstin.notifier")


class OutcomeSubscription:
    def __init__(
        self,
        redis_url: str,
        *,
        on_decided: Callable[[OrdersDecided], Awaitable[None]],
        on_progress: Callable[[ProgressUpdated], Awaitable[None]],
        on_queued: Callable[[OrderQueued], Awaitable[None]],
        on_resubscribed: Callable[[], Awaitable[None]],
        connect_timeout: float,
    ):
        self._redis_url = redis_url
        self._on_decided = on_decided
        self._on_progress = on_progress
        self._on_queued = on_queued
        self._on_resubscribed = on_resubscribed
        self._connect_timeout = connect_timeout
        self._loop = BackgroundTask(self._run, "outcome-subscription")
        self.subscribed = False

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _run(self) -> None:
        backoff, had_outage = 0.1, False
        while True:
            # health_check_interval: a PING on an idle subscription, so a silently dead link is noticed.
            client = Redis.from_url(
                self._redis_url, socket_connect_timeout=self._connect_timeout, health_check_interval=5
            )
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(OUTCOMES_CHANNEL, PROGRESS_CHANNEL, QUEUED_CHANNEL)
                for _ in range(3):
                    confirmation = await pubsub.get_message(timeout=self._connect_timeout)
                    if not confirmation or confirmation["type"] != "subscribe":
                        raise RedisError("no subscribe confirmation")
                self.subscribed, backoff = True, 0.1
                if had_outage:
                    log.info("outcomes resubscribed, catching up")
                    await self._on_resubscribed()
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None:
                        await self._deliver(message["channel"], message["data"])
            except (RedisError, OSError) as exc:
                if self.subscribed or not had_outage:
                    log.warning("outcome subscription lost", extra={"error": repr(exc)})
                metrics.REDIS_ERRORS.inc()
                self.subscribed, had_outage = False, True
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
            finally:
                await pubsub.aclose()  # type: ignore[no-untyped-call]
                await client.aclose()

    async def _deliver(self, channel: bytes, data: bytes) -> None:
        try:
            if channel == OUTCOMES_CHANNEL.encode():
                await self._on_decided(OrdersDecided.model_validate_json(data))
            elif channel == QUEUED_CHANNEL.encode():
                await self._on_queued(OrderQueued.model_validate_json(data))
            else:
                await self._on_progress(ProgressUpdated.model_validate_json(data))
        except ValidationError as exc:
            log.error("undecodable message", extra={"channel": channel.decode(), "error": str(exc)[:500]})
