"""Composition root of the notifier: a python-socketio server relaying decisions to their buyers only.

Each socket proves with its token which buyer session it speaks for; decisions arrive on the outcomes channel
(Redis pub/sub, see outcomes.py), queued orders and line progress beside them; a socket that connects is owed
its session's recent orders (replay_queue.py reads them for many sockets at once). Who hears what is decided by
relay.py; this module decodes, asks it, and carries out its actions through python-socketio.
"""

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import socketio
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.applications import Starlette

from firstin_contracts import (
    HEARTBEATS_SET,
    UNWATCH_EVENT,
    WATCH_EVENT,
    InvalidToken,
    OrderQueued,
    OrderRecord,
    OrdersDecided,
    ProgressUpdated,
    ServiceHeartbeat,
    heartbeat_key,
    verify_buyer_token,
)
from firstin_notifier import metrics
from firstin_notifier.manager import IndexedRoomsManager
from firstin_notifier.origins import PageOrigins
from firstin_notifier.outcomes import OutcomeSubscription
from firstin_notifier.pending import PendingUpdates
from firstin_notifier.relay import Relay, WatchRefused
from firstin_notifier.replay import RecentOrders
from firstin_notifier.replay_queue import ReplayQueue
from firstin_notifier.server import NotifierApp, carry_out, http_app
from firstin_notifier.settings import NotifierSettings, get_settings
from firstin_serving import Heartbeat

log = logging.getLogger("firstin.notifier")


def create_app(settings: NotifierSettings | None = None) -> socketio.ASGIApp:
    settings = settings or get_settings()
    sio = socketio.AsyncServer(
        async_mode="asgi",
        cors_allowed_origins=PageOrigins(settings.cors_allowed_origins),
        client_manager=IndexedRoomsManager(),
        max_http_buffer_size=settings.max_message_bytes,
        logger=False,
        engineio_logger=False,
    )
    state: dict[str, Any] = {}
    pending = PendingUpdates(delay=settings.pending_event_delay_seconds, clock=time.monotonic)
    relay = Relay(pending, on_superseded=metrics.PENDING_SUPERSEDED.inc)

    def refuse(reason: str) -> socketio.exceptions.ConnectionRefusedError:
        metrics.CONNECTIONS_REFUSED.labels(reason).inc()
        return socketio.exceptions.ConnectionRefusedError(reason)

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: object) -> None:
        token, watch = (auth.get("token"), auth.get("watch")) if isinstance(auth, dict) else (None, None)
        session = None
        if token is not None or watch is None:  # a token that is given must be valid, also with a watch
            try:
                session = verify_buyer_token(token, secret=settings.token_secret)
            except InvalidToken as exc:
                raise refuse(str(exc)) from None
        try:
            joins = relay.connect(sid, session, watch=watch)
        except WatchRefused as exc:
            raise refuse(str(exc)) from None
        if joins:
            # Joined before the handler returns, so before the client hears it is connected: progress from then
            # on reaches it, and GET /products/{sku} read after that is the state to start from.
            await carry_out(sio, joins, "watch")
        metrics.CONNECTED_SOCKETS.inc()
        if session is not None:
            # The server acknowledges the connection as soon as this handler returns, before the replay's Redis
            # read can come back: the replay's events always follow the acknowledgement. The relay counts the
            # socket among its session's before the read starts, so a decision published meanwhile reaches it live.
            state["replays"].request(sid, session)

    @sio.on(WATCH_EVENT)
    async def watch(sid: str, data: object = None, *_: object) -> dict[str, Any]:
        try:
            await carry_out(sio, relay.watch(sid, data.get("sku") if isinstance(data, dict) else None), "watch")
        except WatchRefused as exc:
            return {"error": str(exc)}
        return {"watching": relay.watched(sid)}

    @sio.on(UNWATCH_EVENT)
    async def unwatch(sid: str, data: object = None, *_: object) -> dict[str, Any]:
        await carry_out(sio, relay.unwatch(sid, data.get("sku") if isinstance(data, dict) else None), "watch")
        return {"watching": relay.watched(sid)}

    @sio.event
    async def disconnect(sid: str, reason: object = None) -> None:
        if relay.disconnect(sid):
            metrics.CONNECTED_SOCKETS.dec()

    async def replay(sid: str, records: list[OrderRecord]) -> None:
        await carry_out(sio, relay.replayed(sid, records), "replay")

    def replay_failed(exc: Exception) -> None:
        metrics.REDIS_ERRORS.inc()

    async def on_order_queued(queued: OrderQueued) -> None:
        await carry_out(sio, relay.queued(queued), "queued")

    async def send_due_pending() -> None:
        while True:
            await asyncio.sleep(pending.delay / 4)
            for order_id, actions in relay.due():
                try:
                    await carry_out(sio, actions, "queued")
                except Exception as exc:  # one socket's failure must not stop the others' pending events
                    log.warning("pending event failed", extra={"order_id": order_id, "error": repr(exc)})

    async def on_orders_decided(batch: OrdersDecided) -> None:
        now_ms = time.time() * 1000
        for decision in batch.decisions:
            await carry_out(sio, relay.decided(decision), "decision")
            metrics.DELIVERY_DELAY.observe(max(0.0, now_ms - decision.decided_at) / 1000)
            log.debug("order event emitted", extra={"order_id": decision.order_id, "status": decision.status})

    async def on_progress(progress: ProgressUpdated) -> None:
        await carry_out(sio, relay.progress(progress), "progress")

    async def catch_up() -> None:
        """After an outage of the subscription: tell every connected buyer what changed meanwhile."""
        for sid, session in relay.sessions():
            state["replays"].request(sid, session)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        redis = Redis.from_url(
            settings.redis_url,
            socket_timeout=settings.redis_timeout_seconds,
            socket_connect_timeout=settings.redis_timeout_seconds,
            health_check_interval=1,
        )
        state["replays"] = replays = ReplayQueue(
            read=RecentOrders(redis, limit=settings.replay_orders).of_sessions,
            deliver=replay,
            is_connected=relay.is_connected,
            on_read_error=replay_failed,
            retry_errors=(RedisError, OSError),
        )
        replays.start()
        state["outcomes"] = outcomes = OutcomeSubscription(
            settings.redis_url,
            on_decided=on_orders_decided,
            on_progress=on_progress,
            on_queued=on_order_queued,
            on_resubscribed=catch_up,
            connect_timeout=settings.redis_timeout_seconds,
        )
        outcomes.start()
        beat = _heartbeat(redis, relay, outcomes)
        beat.start()
        pending_sender = asyncio.create_task(send_due_pending()) if pending.delay > 0 else None
        log.info("notifier started")
        try:
            yield
        finally:
            if pending_sender is not None:
                pending_sender.cancel()
            await beat.stop()
            await outcomes.stop()
            await replays.stop()
            await redis.aclose()
            log.info("notifier stopped")

    http = http_app(
        is_ready=lambda: bool(state["outcomes"].subscribed),
        metrics_allowed_networks=settings.metrics_allowed_networks,
        lifespan=lifespan,
    )
    return NotifierApp(sio, http, max_body_bytes=settings.max_message_bytes)


def _heartbeat(redis: Redis, relay: Relay, outcomes: OutcomeSubscription) -> Heartbeat:
    """What the admin page shows of this notifier: its sockets, and whether it hears the outcomes."""
    instance, started_at = uuid.uuid4().hex, int(time.time() * 1000)

    def record() -> str:
        state = ServiceHeartbeat.of_this_process(
            "notifier", instance, started_at, sockets=relay.socket_count(), subscribed=outcomes.subscribed
        )
        return state.model_dump_json()

    return Heartbeat(redis, key=heartbeat_key("notifier", instance), index=HEARTBEATS_SET, record=record)
