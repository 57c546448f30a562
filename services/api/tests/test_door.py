"""The door on its own, without Redis: which orders of a group may join their lines, and the memory of closed doors
behind the fast sold-out answer."""

import asyncio

from firstin_api.door import DoorCache, DoorReading, Open, admit
from firstin_api.placing import LimitReached, NewOrder, Refused, SoldOut, UnknownProduct


def _order(sku: str = "tee", quantity: int = 1, n: int = 0) -> NewOrder:
    return NewOrder(f"{sku}.{n}", sku, f"b{n}@example.com", quantity, f"s{n}", "10.0.0.1")


def _kinds(verdicts: list[Refused | None]) -> list[str]:
    return ["admitted" if v is None else type(v).__name__ for v in verdicts]


def test_a_group_shares_the_room_its_first_reading_found_in_arrival_order() -> None:
    orders = [_order(n=n) for n in range(5)]
    # Each order's reading was taken before any order of the group joined: all of them see the same 3.
    verdicts = admit(orders, [Open(room=3)] * 5)
    assert _kinds(verdicts) == ["admitted"] * 3 + ["SoldOut"] * 2


def test_quantities_use_up_the_room_and_the_last_order_that_finds_room_is_admitted_whole() -> None:
    orders = [_order(quantity=2, n=n) for n in range(4)]
    # 5 left: 2 (3 left), 2 (1 left), 2 (admitted: the processor rejects what the stock cannot cover), shut.
    assert _kinds(admit(orders, [Open(room=5)] * 4)) == ["admitted"] * 3 + ["SoldOut"]


def test_each_product_has_its_own_room() -> None:
    orders = [_order("tee", n=0), _order("cap", n=1), _order("tee", n=2), _order("cap", n=3)]
    readings: list[DoorReading] = [Open(room=1), Open(room=2), Open(room=1), Open(room=2)]
    assert _kinds(admit(orders, readings)) == ["admitted", "admitted", "SoldOut", "admitted"]


def test_refusals_read_at_the_door_stand_and_take_no_room() -> None:
    orders = [_order(n=n) for n in range(4)]
    readings: list[DoorReading] = [LimitReached(30), UnknownProduct("tee"), SoldOut("tee"), Open(room=1)]
    verdicts = admit(orders, readings)
    assert verdicts[:3] == readings[:3], "the door's own refusals are the answers"
    assert verdicts[3] is None, "the one unit of room is still there for the order that was let through"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Doors:
    """door.lua's answer to "is this door closed?", counting the reads."""

    def __init__(self, closed: set[str]) -> None:
        self.closed = closed
        self.reads: list[str] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def is_closed(self, sku: str) -> bool:
        self.reads.append(sku)
        await self.gate.wait()
        return sku in self.closed


async def test_a_closed_door_is_answered_from_memory_until_the_memory_is_older_than_its_ttl() -> None:
    doors, clock = Doors({"tee"}), Clock()
    cache = DoorCache(doors.is_closed, ttl=0.5, clock=clock)
    assert await cache.closed("tee") is True
    clock.now += 0.5
    assert await cache.closed("tee") is True
    assert doors.reads == ["tee"], "within the ttl, no read"
    doors.closed.clear()  # restocked
    clock.now += 0.25
    assert await cache.closed("tee") is False, "a door that reopened is seen once the memory is stale"
    assert doors.reads == ["tee", "tee"]


async def test_the_requests_that_find_the_memory_stale_together_share_one_read() -> None:
    doors = Doors({"tee"})
    doors.gate.clear()
    cache = DoorCache(doors.is_closed, ttl=0.1, clock=Clock())
    stampede = [asyncio.ensure_future(cache.closed("tee")) for _ in range(50)]
    await asyncio.sleep(0)
    doors.gate.set()
    assert await asyncio.gather(*stampede) == [True] * 50
    assert doors.reads == ["tee"]


async def test_the_memory_keeps_the_most_recently_read_products_only() -> None:
    """Made-up skus cannot grow an api worker's memory."""
    doors = Doors({"closed"})
    cache = DoorCache(doors.is_closed, ttl=60, max_products=3, clock=Clock())
    assert await cache.closed("closed") is True
    for i in range(1000):
        assert await cache.closed(f"made-up-{i}") is False
    assert list(cache._known) == ["made-up-997", "made-up-998", "made-up-999"], "bounded"
    doors.reads.clear()
    assert await cache.closed("made-up-999") is False
    assert doors.reads == [], "a recent product is still answered from memory"
    assert await cache.closed("closed") is True
    assert doors.reads == ["closed"], "an evicted one is read again"
