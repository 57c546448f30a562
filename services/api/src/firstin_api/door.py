"""The door in front of each product's line: which orders of a group may join, and the per-process memory of
which doors are closed, behind the fast sold-out answer.

door.lua reads, per order and in one round trip for the whole group, the request limits and the room left in
line (stock left minus the quantity already waiting). `admit` decides on those readings, so that a group
cannot slip past a door that the first few of its orders close.
"""

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from firstin_api.placing import NewOrder, Refused, SoldOut


@dataclass(frozen=True, slots=True)
class Open:
    room: int  # stock left minus the quantity already waiting in line, before any order of the group joined


DoorReading = Open | Refused  # door.lua's answer for one order, read before any order of its group joined


def admit(orders: Sequence[NewOrder], readings: Sequence[DoorReading]) -> list[Refused | None]:
    """None for each order that may join its line, else why not. The orders of a product share the room its
    first reading found, in arrival order; an order is admitted while any room is left, even if its quantity
    exceeds it (the processor then rejects what the stock cannot cover)."""
    room: dict[str, int] = {}
    verdicts: list[Refused | None] = []
    for order, reading in zip(orders, readings, strict=True):
        if not isinstance(reading, Open):
            verdicts.append(reading)
            continue
        left = room.setdefault(order.sku, reading.room)
        verdicts.append(None if left > 0 else SoldOut(order.sku))
        room[order.sku] = left - order.quantity
    return verdicts


DoorCheck = Callable[[str], Awaitable[bool]]


class DoorCache:
    """Whether a product's door is closed, as last read from Redis, for at most `ttl` seconds: a sold-out
    product answers without a round trip, and a door that reopens (restock, rejections) is seen that late. The
    requests that find it stale at the same moment share one read (in a stampede, thousands arrive in the same
    instant). It keeps the `max_products` most recently read products: requests for made-up skus cannot grow it."""

    def __init__(
        self,
        is_closed: DoorCheck,
        *,
        ttl: float,
        max_products: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._is_closed = is_closed
        self._ttl = ttl
        self._max_products = max_products
        self._clock = clock
        self._known: OrderedDict[str, tuple[bool, float]] = OrderedDict()
        self._reading: dict[str, asyncio.Future[bool]] = {}

    async def closed(self, sku: str) -> bool:
        known = self._known.get(sku)
        if known is not None and self._clock() - known[1] <= self._ttl:
            return known[0]
        reading = self._reading.get(sku)
        if reading is None:
            reading = asyncio.ensure_future(self._read(sku))
            self._reading[sku] = reading
        return await asyncio.shield(reading)

    async def _read(self, sku: str) -> bool:
        try:
            now = self._clock()
            closed = await self._is_closed(sku)
            self._known[sku] = (closed, now)
            self._known.move_to_end(sku)
            while len(self._known) > self._max_products:
                self._known.popitem(last=False)
            return closed
        finally:
            del self._reading[sku]
