"""Composition root of the notifier: a python-socketio server relaying decisions to their buyers only.

Each socket proves with its token which buyer session it speaks for and joins that session's room; decisions
arrive on the outcomes channel (Redis pub/sub, see outcomes.py) and go to the sockets of the session that
placed the order, nowhere else. Sockets waiting in a product's line also get its progress. A socket that
connects is told its session's recent orders (replay_queue.py reads them for many sockets at once), then
`replayed`.
"""

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import socketio
from prometheus_client import make_asgi_app
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from firstin_contracts import (
    ORDER_EVENT,
    PROGRESS_EVENT,
    REPLAYED_EVENT,
    SOCKETIO_PATH,
    BuyerSession,
    InvalidToken,
    OrderQueued,
    OrderRecord,
    OrdersDecided,
    OrderStatus,
    OrderUpdate,
    ProgressUpdated,
    verify_buyer_token,
)
from firstin_notifier import metrics
from firstin_notifier.limits import BodySizeLimit
from firstin_notifier.manager import IndexedRoomsManager
from firstin_notifier.outcomes import OutcomeSubscription
from firstin_notifier.pacing import DisconnectPacer, PacedDisconnects
from firstin_notifier.pending import PendingUpdates
from firstin_notifier.replay import RecentOrders
from firstin_notifier.replay_queue import ReplayQueue
from firstin_notifier.settings import NotifierSettings, get_settings
from firstin_serving import ClusterOnly

log = logging.getLogger("firstin.notifier")
FINAL_STATUSES = frozenset({OrderStatus.ACCEPTED, OrderStatus.REJECTED})
_NO_SESSION = BuyerSession(email="", session_id="")


def session_room(session_id: str) -> str:
    return f"session:{session_id}"


def line_room(sku: str) -> str:
    """Sockets with a pending order in this product's line: they get its progress."""
    return f"line:{sku}"


class NotifierApp(socketio.ASGIApp):  # type: ignore[misc]  # untyped library
    """python-socketio's ASGI app (Socket.IO at SOCKETIO_PATH, the rest to the HTTP app) behind the body size limit."""

    def __init__(self, sio: socketio.AsyncServer, http_app: Starlette, *, max_body_bytes: int):
        super().__init__(sio, other_asgi_app=http_app, socketio_path=SOCKETIO_PATH)
        paced = PacedDisconnects(super().__call__, DisconnectPacer())
        self._limited = BodySizeLimit(paced, max_bytes=max_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._limited(scope, receive, send)


def create_app(settings: NotifierSettings | None = None) -> socketio.ASGIApp:
    settings = settings or get_settings()
    sio = socketio.AsyncServer(
        async_mode="asgi",
        cors_allowed_origins=settings.cors_allowed_origins,
        client_manager=IndexedRoomsManager(),
        max_http_buffer_size=settings.max_message_bytes,
        logger=False,
        engineio_logger=False,
    )
    state: dict[str, Any] = {}
    # What each socket has been told: order id -> (status, sku). A decision can reach a socket twice (live,
    # and in the replay of a socket that just connected); this keeps it to once, and stops a replay read
    # before the decision from overwriting the final status with "pending".
    told: dict[str, dict[str, tuple[str, str]]] = {}
    sessions: dict[str, BuyerSession] = {}  # sid -> the buyer session its token names
    pending = PendingUpdates(delay=settings.pending_event_delay_seconds, clock=time.monotonic)

    async def tell(sid: str, update: OrderUpdate, kind: str) -> None:
        seen = told.get(sid)
        if seen is None:
            return  # disconnected meanwhile
        previous = seen.get(update.order_id, (None, ""))[0]
        if previous == update.status or previous in FINAL_STATUSES:
            return
        seen[update.order_id] = (update.status, update.sku)
        await sio.emit(ORDER_EVENT, update.model_dump(mode="json"), to=sid)
        metrics.EVENTS_EMITTED.labels(kind).inc()
        if update.status == OrderStatus.PENDING:
            await sio.enter_room(sid, line_room(update.sku))
        elif previous == OrderStatus.PENDING and not any(
            status == OrderStatus.PENDING and sku == update.sku for status, sku in seen.values()
        ):
            await sio.leave_room(sid, line_room(update.sku))

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: object) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            session = verify_buyer_token(token, secret=settings.token_secret)
        except InvalidToken as exc:
            metrics.CONNECTIONS_REFUSED.labels(str(exc)).inc()
            raise socketio.exceptions.ConnectionRefusedError(str(exc)) from None
        told[sid] = {}
        sessions[sid] = session
        await sio.enter_room(sid, session_room(session.session_id))
        metrics.CONNECTED_SOCKETS.inc()
        # The server acknowledges the connection as soon as this handler returns, before the replay's Redis
        # read can come back: the replay's events always follow the acknowledgement. The socket is in its
        # session's room before the read starts, so a decision published meanwhile reaches it live.
        state["replays"].request(sid, session)

    async def replay(sid: str, records: list[OrderRecord]) -> None:
        for record in records:
            await tell(sid, OrderUpdate.of(record), "replay")
        await sio.emit(REPLAYED_EVENT, {"orders": len(records)}, to=sid)
        metrics.REPLAYS.inc()

    def replay_failed(exc: Exception) -> None:
        metrics.REDIS_ERRORS.inc()

    @sio.event
    async def disconnect(sid: str, reason: object = None) -> None:
        sessions.pop(sid, None)
        if told.pop(sid, None) is not None:
            metrics.CONNECTED_SOCKETS.dec()

    async def tell_session(session_id: str, email: str, update: OrderUpdate, kind: str) -> None:
        for sid, _ in list(sio.manager.get_participants("/", session_room(session_id))):
            if sessions.get(sid, _NO_SESSION).email == email:
                await tell(sid, update, kind)

    async def tell_pending(queued: OrderQueued) -> None:
        update = OrderUpdate(
            order_id=queued.order_id, sku=queued.sku, status=OrderStatus.PENDING, position=queued.position
        )
        await tell_session(queued.session_id, queued.email, update, "queued")

    async def on_order_queued(queued: OrderQueued) -> None:
        if pending.delay <= 0:
            await tell_pending(queued)
        else:
            pending.hold(queued)

    async def send_due_pending() -> None:
        while True:
            await asyncio.sleep(pending.delay / 4)
            for queued in pending.due():
                try:
                    await tell_pending(queued)
                except Exception as exc:  # one socket's failure must not stop the others' pending events
                    log.warning("pending event failed", extra={"order_id": queued.order_id, "error": repr(exc)})

    async def on_orders_decided(batch: OrdersDecided) -> None:
        now_ms = time.time() * 1000
        for decision in batch.decisions:
            if pending.supersede(decision.order_id):
                metrics.PENDING_SUPERSEDED.inc()
            await tell_session(decision.session_id, decision.email, OrderUpdate.of(decision), "decision")
            metrics.DELIVERY_DELAY.observe(max(0.0, now_ms - decision.decided_at) / 1000)
            log.debug("order event emitted", extra={"order_id": decision.order_id, "status": decision.status})

    async def on_progress(progress: ProgressUpdated) -> None:
        await sio.emit(PROGRESS_EVENT, progress.model_dump(exclude={"schema_version"}), room=line_room(progress.sku))
        metrics.EVENTS_EMITTED.labels("progress").inc()

    async def catch_up() -> None:
        """After an outage of the subscription: tell every connected buyer what changed meanwhile."""
        for sid, session in list(sessions.items()):
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
            is_connected=sessions.__contains__,
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
        pending_sender = asyncio.create_task(send_due_pending()) if pending.delay > 0 else None
        log.info("notifier started")
        try:
            yield
        finally:
            if pending_sender is not None:
                pending_sender.cancel()
            await outcomes.stop()
            await replays.stop()
            await redis.aclose()
            log.info("notifier stopped")

    async def livez(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> JSONResponse:
        ready = state["outcomes"].subscribed
        return JSONResponse({"status": "ready" if ready else "redis unreachable"}, status_code=200 if ready else 503)

    http_app = Starlette(
        routes=[
            Route("/livez", livez),
            Route("/readyz", readyz),
            Mount("/metrics", ClusterOnly(make_asgi_app(), settings.metrics_allowed_networks)),
        ],
        lifespan=lifespan,
    )
    return NotifierApp(sio, http_app, max_body_bytes=settings.max_message_bytes)
