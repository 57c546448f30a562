"""Group commit: the orders that arrive while Redis is busy with the previous group travel to Redis together.

On a loaded machine the system calls of each Redis round trip, not the Lua, were the api's bill
(docs/benchmarks.md: socket writes led its profile). So each worker keeps one group in flight: the orders that
arrive meanwhile wait for it, then go as the next group, in the same number of round trips as a single order.
Round trips per order fall as the load rises, and a lone order on an idle api still leaves at once (it waits for
one turn of the event loop, so that the requests read in the same turn join it).
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

# Commits a group; answers each item in order, with its result or the exception to raise to its submitter.
Commit = Callable[[list[Item]], Awaitable[Sequence[Result | Exception]]]


class GroupCommit(Generic[Item, Result]):
    def __init__(
        self, commit: Commit[Item, Result], *, max_group: int, on_group: Callable[[int], object] | None = None
    ):
        self._commit = commit
        self._max_group = max_group
        self._on_group = on_group  # told each group's size (a metric)
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._committer: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        """The item's result once its group is committed; a failed commit raises its exception to every item."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._committer is None:
            self._committer = asyncio.create_task(self._commit_all())
        return await future

    async def _commit_all(self) -> None:
        group: list[tuple[Item, asyncio.Future[Result]]] = []
        try:
            while self._waiting:
                group = self._waiting[: self._max_group]
                del self._waiting[: self._max_group]
                if self._on_group is not None:
                    self._on_group(len(group))
                try:
                    results: Sequence[Result | Exception] = await self._commit([item for item, _ in group])
                except Exception as exc:  # handed to every submitter of the group
                    results = [exc] * len(group)
                for (_, future), result in zip(group, results, strict=True):
                    if future.done():  # its submitter was cancelled
                        continue
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
                group = []
        finally:
            # Only reached with items left when this task is cancelled (shutdown): none of them is left hanging.
            for _, future in group + self._waiting:
                future.cancel()
            self._waiting = []
            self._committer = None
