"""`python -m firstin_notifier`: run the Socket.IO notifier under uvicorn."""

import asyncio
import gc

import socketio
import uvicorn

from firstin_contracts import SHUTDOWN_EVENT
from firstin_notifier.logs import logging_config
from firstin_notifier.main import create_app
from firstin_notifier.settings import get_settings
from firstin_serving import uvicorn_options


class NotifierServer(uvicorn.Server):
    """On SIGTERM, tell every client why before uvicorn closes the websockets (code 1012, service restart):
    Socket.IO clients then reconnect by themselves, to another replica behind the same address."""

    def __init__(self, config: uvicorn.Config, sio: socketio.AsyncServer):
        super().__init__(config)
        self._sio = sio

    async def shutdown(self, sockets: list | None = None) -> None:  # type: ignore[type-arg]
        await self._sio.emit(SHUTDOWN_EVENT, {"reason": "server restarting, reconnect"})
        await asyncio.sleep(0.2)  # engine.io writes from a task per socket: let the notice leave first
        await super().shutdown(sockets)


def main() -> None:
    settings = get_settings()
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.notifier_host,
        port=settings.notifier_port,
        log_config=logging_config(settings.log_level),
        timeout_graceful_shutdown=5,
        **uvicorn_options(settings),
        # Engine.IO pings every socket itself: uvicorn's own websocket pings would double that traffic.
        ws_ping_interval=None,
        # Compression costs ~35 KB of memory per socket and a quarter more CPU per fan-out (bench.notifier_scale)
        # for payloads of about a hundred bytes.
        ws_per_message_deflate=False,
    )
    # Thousands of long-lived sockets make every full garbage collection walk ~1.5 M objects (0.7-1.5 s at 10,000
    # sockets, bench.notifier_scale): move what exists at start out of the collector's reach and collect the
    # young generation far less often.
    gc.freeze()
    gc.set_threshold(settings.gc_young_threshold, 50, 1000)
    NotifierServer(config, app.engineio_server).run()


if __name__ == "__main__":
    main()
