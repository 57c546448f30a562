"""ReplayQueue: replays requested while a group is read go together as the next group, a failed read is retried
until it succeeds, and only a socket that left is given up on. The reader here is an in-memory stand-in; the
Redis side is tested through real processes in tests/test_connect_storm.py."""

import asyncio
from collections.abc import Callable, Iterable

import pytest

from firstin_contracts import BuyerSession, OrderRecord
from firstin_notifier.replay_queue import ReplayQueue


class ReadFailed(Exception):
    pass


class Reader:
    """Counts reads and their groups; fails the first `failures` reads; each read waits until released."""

    def __init__(self, failures: int = 0):
        self.groups: list[list[str]] = []
        self.failures = failures
        self.release = asyncio.Event()
        self.release.set()
        self.started = asyncio.Event()

    async def __call__(self, sessions: Iterable[BuyerSession]) -> dict[BuyerSession, list[OrderRecord]]:
        wanted = list(sessions)
        self.groups.append([s.session_id for s in wanted])
        self.started.set()
        await self.release.wait()
        if self.failures:
            self.failures -= 1
            raise ReadFailed("redis restarting")
        return {s: [] for s in wanted}


def session(n: int) -> BuyerSession:
    return BuyerSession(f"b{n}@example.com", f"s{n}")


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll with a deadline: the queue's loop runs on the same event loop, so each pause lets it work."""
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.001)


@pytest.fixture
def delivered() -> list[str]:
    return []


def queue_of(reader: Reader, delivered: list[str], connected: set[str]) -> ReplayQueue:
    async def deliver(sid: str, records: list[OrderRecord]) -> None:
        delivered.append(sid)

    errors: list[Exception] = []
    return ReplayQueue(
        read=reader,
        deliver=deliver,
        is_connected=connected.__contains__,
        on_read_error=errors.append,
        retry_errors=(ReadFailed,),
        first_pause=0.001,
        max_pause=0.004,
    )


async def test_requests_that_arrive_during_a_read_go_together_as_the_next_group(delivered: list[str]) -> None:
    reader = Reader()
    connected = {f"sid{i}" for i in range(101)}
    queue = queue_of(reader, delivered, connected)
    queue.start()
    try:
        reader.release.clear()
        queue.request("sid0", session(0))
        await until(reader.started.is_set)
        for i in range(1, 101):
            queue.request(f"sid{i}", session(i))
        reader.release.set()
        await until(lambda: len(delivered) == 101)
        assert reader.groups == [["s0"], [f"s{i}" for i in range(1, 101)]], "two reads for 101 sockets"
        assert delivered == [f"sid{i}" for i in range(101)], "each socket once, in the order they asked"
    finally:
        await queue.stop()


async def test_a_failed_read_is_retried_until_it_succeeds(delivered: list[str]) -> None:
    reader = Reader(failures=5)
    queue = queue_of(reader, delivered, {"sid0", "sid1"})
    queue.start()
    try:
        queue.request("sid0", session(0))
        queue.request("sid1", session(1))
        await until(lambda: len(delivered) == 2)
        assert len(reader.groups) == 6
        assert sorted(delivered) == ["sid0", "sid1"]
    finally:
        await queue.stop()


async def test_a_socket_that_left_is_dropped_from_its_group_and_not_delivered(delivered: list[str]) -> None:
    reader = Reader(failures=1)
    connected = {"sid0", "sid1"}
    queue = queue_of(reader, delivered, connected)
    queue.start()
    try:
        reader.release.clear()
        queue.request("sid0", session(0))
        queue.request("sid1", session(1))
        await until(reader.started.is_set)
        connected.discard("sid1")  # leaves while its first read fails
        reader.release.set()
        await until(lambda: delivered == ["sid0"])
        assert reader.groups[-1] == ["s0"], "the retry reads only for the socket still there"
    finally:
        await queue.stop()


async def test_a_socket_asking_twice_while_waiting_is_replayed_once(delivered: list[str]) -> None:
    reader = Reader()
    queue = queue_of(reader, delivered, {"sid0", "sid1"})
    queue.start()
    try:
        reader.release.clear()
        queue.request("sid1", session(1))
        await until(reader.started.is_set)
        queue.request("sid0", session(0))
        queue.request("sid0", session(0))  # a catch-up while its connect replay still waits
        reader.release.set()
        await until(lambda: len(delivered) == 2)
        assert delivered == ["sid1", "sid0"]
        assert len(queue) == 0
    finally:
        await queue.stop()


async def test_an_unexpected_read_error_does_not_stop_the_replays(delivered: list[str]) -> None:
    calls = 0

    async def buggy_then_fine(sessions: Iterable[BuyerSession]) -> dict[BuyerSession, list[OrderRecord]]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise KeyError("a bug, not an outage")
        return {s: [] for s in sessions}

    async def deliver(sid: str, records: list[OrderRecord]) -> None:
        delivered.append(sid)

    queue = ReplayQueue(
        read=buggy_then_fine,
        deliver=deliver,
        is_connected=lambda sid: True,
        on_read_error=lambda exc: None,
        retry_errors=(ReadFailed,),
        first_pause=0.001,
    )
    queue.start()
    try:
        queue.request("sid0", session(0))
        await until(lambda: delivered == ["sid0"])
        queue.request("sid1", session(1))
        await until(lambda: delivered == ["sid0", "sid1"])  # the loop is still alive
    finally:
        await queue.stop()
