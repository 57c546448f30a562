"""The api's uvicorn protocol sends a response's head and body in one write, and never loses or reorders bytes."""

import asyncio
from collections.abc import Awaitable, Callable

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from firstin_api.http_protocol import CoalescingHttpToolsProtocol, _CoalescingTransport


class RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


HEAD = b"HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\n"


async def test_head_and_body_leave_in_one_write() -> None:
    real = RecordingTransport()
    transport = _CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(HEAD)
    transport.write(b"{}")
    assert real.writes == [HEAD + b"{}"]
    await asyncio.sleep(0)
    assert real.writes == [HEAD + b"{}"], "nothing is sent twice"


async def test_a_head_with_no_body_yet_leaves_at_the_end_of_the_loop_turn() -> None:
    real = RecordingTransport()
    transport = _CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(HEAD)  # e.g. a server-sent events stream before its first event
    assert real.writes == []
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert real.writes == [HEAD]
    transport.write(b"data: 1\n\n")
    assert real.writes == [HEAD, b"data: 1\n\n"]


async def test_close_sends_a_held_head_first_and_the_rest_is_delegated() -> None:
    real = RecordingTransport()
    transport = _CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(HEAD)
    transport.close()
    assert real.writes == [HEAD] and real.closed
    assert transport.get_extra_info("peername") == "info:peername"


class ServerTransport(RecordingTransport):
    """What uvicorn asks of a connection's transport, recording the writes."""

    def get_extra_info(self, name: str) -> object:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(name)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _served_writes(protocol_class: type[HttpToolsProtocol]) -> list[bytes]:
    """The writes a real uvicorn protocol makes to answer one request of a small app."""

    async def app(
        scope: dict[str, object], receive: object, send: Callable[[dict[str, object]], Awaitable[None]]
    ) -> None:
        await send({"type": "http.response.start", "status": 202, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"{}"})

    config = uvicorn.Config(app, lifespan="off", log_config=None)
    config.load()
    transport = ServerTransport()
    protocol = protocol_class(config=config, server_state=ServerState(), app_state={})
    protocol.connection_made(transport)  # type: ignore[arg-type]
    protocol.data_received(b"POST /orders HTTP/1.1\r\nHost: firstin\r\nContent-Length: 0\r\n\r\n")
    for _ in range(100):
        if protocol.cycle is not None and protocol.cycle.response_complete:
            break
        await asyncio.sleep(0)
    await asyncio.sleep(0)
    return transport.writes


async def test_the_pinned_uvicorn_writes_a_head_alone_then_the_body() -> None:
    """What the coalescing rests on: if uvicorn stops writing the head by itself, starting with b"HTTP/", the
    device no longer does anything (or holds the wrong bytes) and must be revisited."""
    writes = await _served_writes(HttpToolsProtocol)
    assert len(writes) == 2 and writes[0].startswith(b"HTTP/1.1 202") and writes[1] == b"{}", writes


async def test_the_api_protocol_answers_in_one_write() -> None:
    writes = await _served_writes(CoalescingHttpToolsProtocol)
    assert len(writes) == 1 and writes[0].startswith(b"HTTP/1.1 202") and writes[0].endswith(b"\r\n\r\n{}"), writes
