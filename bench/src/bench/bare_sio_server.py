"""`python -m bench.bare_sio_server PORT [WS]`: the yardstick of the `connects` scenario.

A bare python-socketio server under uvicorn, configured as the notifier's (websocket transport, no uvicorn
pings, no compression), that does the least a notifier can: accept the socket, join one room, emit one event.
What it spends per connection is what the library itself costs; the notifier's figure is compared with it.
WS is uvicorn's websocket implementation (`ws=`), uvicorn's default when not given.
"""

import sys

import socketio
import uvicorn


def create_app() -> socketio.ASGIApp:
    sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*", logger=False, engineio_logger=False)

    async def connect(sid: str, environ: dict[str, object], auth: object) -> None:
        await sio.enter_room(sid, f"room:{sid}")
        sio.start_background_task(sio.emit, "order", {"status": "accepted"}, to=f"room:{sid}")

    sio.on("connect", connect)  # not as a decorator: the library's decorators are untyped
    return socketio.ASGIApp(sio)


def main() -> None:
    port = int(sys.argv[1])
    ws = sys.argv[2] if len(sys.argv) > 2 else "auto"
    uvicorn.run(
        create_app(),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws_ping_interval=None,
        ws_per_message_deflate=False,
        ws=ws,
    )


if __name__ == "__main__":
    main()
