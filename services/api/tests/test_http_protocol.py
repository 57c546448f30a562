"""The api's uvicorn protocol sends a response's head and body in one write, and never loses or reorders bytes."""

import asyncio

from firstin_api.http_protocol import _CoalescingTransport


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
