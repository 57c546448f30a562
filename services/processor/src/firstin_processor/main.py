"""Composition root of the processor: a FastStream app with a health and metrics port.

Orders are not consumed with FastStream's list subscriber: that pops a message before the handler runs
(at-most-once), so a processor killed in between would lose the order in hand. The decide script pops and
decides in one atomic step instead (see decide.lua and the README's "Guarantees"). FastStream carries the
api's wake-up calls, and hosts the process (lifespan, ASGI routes, and the AsyncAPI document of every
channel, channels.py).
"""

import logging
import time
from typing import Any

from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.redis import RedisBroker
from prometheus_client import make_asgi_app
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError, TimeoutError

from firstin_contracts import (
    HEARTBEATS_SET,
    PROGRESS_CHANNEL,
    WAKE_CHANNEL,
    ProductQueued,
    ProgressUpdated,
    ServiceHeartbeat,
    heartbeat_key,
)
from firstin_processor import asyncapi_page
from firstin_processor.channels import channels_document
from firstin_processor.lease import ProductLeases
from firstin_processor.settings import ProcessorSettings, get_settings
from firstin_processor.store import DecisionStore
from firstin_processor.worker import DecisionWorker
from firstin_serving import ClusterOnly, Heartbeat

log = logging.getLogger("firstin.processor")


def create_app(settings: ProcessorSettings | None = None) -> AsgiFastStream:
    settings = settings or get_settings()
    broker = RedisBroker(
        settings.redis_url,
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
        # After a Redis restart every pooled connection is dead: retry a failed call on a fresh one. Safe for
        # the decide script: a call whose reply was lost has already decided its batch, a retry takes the next.
        retry_on_error=[ConnectionError, TimeoutError],
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.02), retries=2),
        # FastStream logs each wake-up it handles: at DEBUG, or a sale would flood the log.
        logger=log,
        log_level=logging.DEBUG,
    )
    state: dict[str, DecisionWorker] = {}
    held: list[ProductLeases] = []
    heartbeats: list[Heartbeat] = []

    @broker.subscriber(channel=WAKE_CHANNEL)
    async def on_product_queued(message: ProductQueued) -> None:
        if worker := state.get("worker"):
            worker.kick(message.sku)

    async def start_worker() -> None:
        redis = await broker.connect()
        store = DecisionStore(
            redis,
            batch_size=settings.decide_batch_size,
            max_message_bytes=settings.max_message_bytes,
            dead_letters_kept=settings.dead_letters_kept,
        )
        leases = ProductLeases(redis, ttl_seconds=settings.lease_ttl_seconds)
        held.append(leases)
        leases.start()
        started_at = int(time.time() * 1000)

        def heartbeat() -> str:
            # What the admin page shows of this processor: the instance is its lease holder id.
            state = ServiceHeartbeat.of_this_process("processor", leases.holder, started_at, leases=len(leases.held))
            return state.model_dump_json()

        heartbeats.append(
            Heartbeat(redis, key=heartbeat_key("processor", leases.holder), index=HEARTBEATS_SET, record=heartbeat)
        )
        heartbeats[-1].start()

        async def publish_progress(update: ProgressUpdated) -> None:
            # Plain JSON, like the outcomes decide.lua publishes: the notifier reads both the same way.
            await redis.publish(PROGRESS_CHANNEL, update.model_dump_json())

        state["worker"] = worker = DecisionWorker(
            store, leases, poll_interval=settings.poll_interval_seconds, publish_progress=publish_progress
        )
        worker.start()
        log.info("processor started", extra={"batch_size": settings.decide_batch_size})

    async def stop_worker() -> None:
        # The batch in hand finishes first, then the leases go, so other processors take over at once.
        if worker := state.pop("worker", None):
            await worker.stop()
        for leases in held:
            await leases.stop()
        for beat in heartbeats:
            await beat.stop()
        log.info("processor stopped")

    @get(include_in_schema=False)
    async def livez(scope: Any) -> AsgiResponse:
        return AsgiResponse(b"ok", 200)

    @get(include_in_schema=False)
    async def readyz(scope: Any) -> AsgiResponse:
        if "worker" in state and await broker.ping(timeout=1):
            return AsgiResponse(b"ready", 200)
        return AsgiResponse(b"redis unreachable", 503)

    return AsgiFastStream(
        broker,
        logger=log,
        asgi_routes=[
            ("/livez", livez),
            ("/readyz", readyz),
            ("/metrics", ClusterOnly(make_asgi_app(), settings.metrics_allowed_networks)),
            *asyncapi_page.asset_routes(),
        ],
        after_startup=[start_worker],
        on_shutdown=[stop_worker],
        specification=channels_document(broker, settings.redis_url),
        asyncapi_path=asyncapi_page.asyncapi_route(),
    )
