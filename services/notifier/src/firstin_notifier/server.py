"""The notifier's python-socketio and Starlette side: the ASGI app, the plain HTTP routes beside Socket.IO, and
the relay's actions carried out on the Socket.IO server."""

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager

import socketio
from prometheus_client import make_asgi_app
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from firstin_contracts import REPLAYED_EVENT, SOCKETIO_PATH
from firstin_notifier import metrics
from firstin_notifier.pacing import DisconnectPacer, PacedDisconnects
from firstin_notifier.relay import Action, Emit, Join, Leave
from firstin_serving import BodySizeLimit, ClusterOnly


class NotifierApp(socketio.ASGIApp):  # type: ignore[misc]  # untyped library
    """python-socketio's ASGI app (Socket.IO at SOCKETIO_PATH, the rest to the HTTP app) behind the body size limit."""

    def __init__(self, sio: socketio.AsyncServer, http_app: Starlette, *, max_body_bytes: int):
        super().__init__(sio, other_asgi_app=http_app, socketio_path=SOCKETIO_PATH)
        paced = PacedDisconnects(super().__call__, DisconnectPacer())
        self._limited = BodySizeLimit(paced, max_bytes=max_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._limited(scope, receive, send)


def http_app(
    *,
    is_ready: Callable[[], bool],
    metrics_allowed_networks: Sequence[str],
    lifespan: Callable[[Starlette], AbstractAsyncContextManager[None]],
) -> Starlette:
    async def livez(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    async def readyz(request: Request) -> JSONResponse:
        ready = is_ready()
        return JSONResponse({"status": "ready" if ready else "redis unreachable"}, status_code=200 if ready else 503)

    return Starlette(
        routes=[
            Route("/livez", livez),
            Route("/readyz", readyz),
            Mount("/metrics", ClusterOnly(make_asgi_app(), metrics_allowed_networks)),
        ],
        lifespan=lifespan,
    )


async def carry_out(sio: socketio.AsyncServer, actions: list[Action], kind: str) -> None:
    """The relay's actions, in the order it gave them. `kind` (what made the events) labels them in the metrics."""
    for action in actions:
        match action:
            case Emit(to, event, data):
                await sio.emit(event, data, to=to)
                if event == REPLAYED_EVENT:
                    metrics.REPLAYS.inc()
                else:
                    metrics.EVENTS_EMITTED.labels(kind).inc()
            case Join(sid, room):
                await sio.enter_room(sid, room)
            case Leave(sid, room):
                await sio.leave_room(sid, room)
