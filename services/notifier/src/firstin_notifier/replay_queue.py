"""Replays of sockets that connect, read in groups and retried until they succeed.

A socket that connects is owed the current state of its session's orders. When hundreds connect in the same
instant, one read each would need hundreds of Redis connections at once (and a pool that runs dry refuses
them), so one loop reads for all of them: the replays requested while a group is being read wait, and go
together as the next group (the api's group commit, applied to replays). A read that fails (Redis restarting,
a connection left dead in the pool) is retried with a growing pause, for as long as the socket it is for is
connected: a replay is never given up, since a refused or untold socket would not ask again by itself.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from firstin_contracts import BuyerSession, OrderRecord
from firstin_serving import BackgroundTask

log = logging.getLogger("firstin.notifier")

ReadSessions = Callable[[Iterable[BuyerSession]], Awaitable[dict[BuyerSession, list[OrderRecord]]]]
Deliver = Callable[[str, list[OrderRecord]], Awaitable[None]]


class ReplayQueue:
    def __init__(
        self,
        *,
        read: ReadSessions,
        deliver: Deliver,
        is_connected: Callable[[str], bool],
        on_read_error: Callable[[Exception], None],
        retry_errors: tuple[type[Exception], ...],
        max_group: int = 1000,
        first_pause: float = 0.05,
        max_pause: float = 1.0,
    ):
        self._read = read
        self._deliver = deliver
        self._is_connected = is_connected
        self._on_read_error = on_read_error
        self._retry_errors = retry_errors
        self._max_group = max_group
        self._first_pause = first_pause
        self._max_pause = max_pause
        self._waiting: dict[str, BuyerSession] = {}  # socket id -> its session, in request order
        self._wake = asyncio.Event()
        self._loop = BackgroundTask(self._run, "replays")

    def request(self, sid: str, session: BuyerSession) -> None:
        """Replay this socket's session to it soon. A socket already waiting keeps its place."""
        self._waiting.setdefault(sid, session)
        self._wake.set()

    def __len__(self) -> int:
        return len(self._waiting)

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._waiting:
                group = self._take_group()
                records = await self._read_until_done(group)
                for sid, session in group.items():
                    if self._is_connected(sid):
                        try:
                            await self._deliver(sid, records.get(session, []))
                        except Exception as exc:  # one socket's failure must not stop the others' replays
                            log.warning("replay delivery failed", extra={"error": repr(exc)})

    def _take_group(self) -> dict[str, BuyerSession]:
        group: dict[str, BuyerSession] = {}
        for sid in list(self._waiting)[: self._max_group]:
            group[sid] = self._waiting.pop(sid)
        return group

    async def _read_until_done(self, group: dict[str, BuyerSession]) -> dict[BuyerSession, list[OrderRecord]]:
        pause = self._first_pause
        while True:
            wanted = [session for sid, session in group.items() if self._is_connected(sid)]
            if not wanted:
                return {}
            try:
                return await self._read(wanted)
            except self._retry_errors as exc:
                self._on_read_error(exc)
                log.warning(
                    "replay read failed, retrying", extra={"sockets": len(wanted), "pause": pause, "error": repr(exc)}
                )
            except Exception:
                # Not an outage: a bug. Retried all the same, loudly: a loop that died here would leave every
                # socket that connects from now on untold.
                log.exception("replay read failed unexpectedly, retrying", extra={"sockets": len(wanted)})
            await asyncio.sleep(pause)
            pause = min(pause * 2, self._max_pause)
