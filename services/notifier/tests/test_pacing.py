"""DisconnectPacer lets a burst of leaving sockets through a few per loop turn, with other work in between;
PacedDisconnects holds back only what ends a socket."""

import asyncio
from typing import Any

import pytest

from firstin_notifier.pacing import DisconnectPacer, PacedDisconnects


async def test_a_burst_of_disconnects_goes_through_a_few_per_loop_turn_with_other_work_between() -> None:
    pacer = DisconnectPacer(per_turn=10)
    timeline: list[str] = []

    async def leave(i: int) -> None:
        await pacer.turn()
        timeline.append("leave")

    async def stay() -> None:  # a buyer's event, waiting for the loop like any other callback
        for _ in range(20):
            await asyncio.sleep(0)
            timeline.append("stay")

    await asyncio.gather(*(leave(i) for i in range(100)), stay())
    assert timeline.count("leave") == 100, "every disconnect goes through in the end"
    runs, current = [], 0
    for entry in timeline:
        if entry == "leave":
            current += 1
        elif current:
            runs.append(current)
            current = 0
    runs.append(current)
    assert max(runs) <= 10, f"at most per_turn disconnects between two turns of other work: {runs}"
    last_leave = max(i for i, entry in enumerate(timeline) if entry == "leave")
    assert timeline[:last_leave].count("stay") >= 5, "the other work ran while disconnects were still waiting"


async def test_a_disconnect_whose_waiter_was_cancelled_does_not_stall_the_others() -> None:
    pacer = DisconnectPacer(per_turn=1)
    cancelled = asyncio.ensure_future(pacer.turn())
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.wait_for(asyncio.gather(pacer.turn(), pacer.turn()), 1)


@pytest.mark.parametrize(
    ("message", "paced"),
    [
        ({"type": "websocket.disconnect", "code": 1005}, True),
        ({"type": "websocket.receive", "text": "41"}, True),
        ({"type": "websocket.receive", "text": "41/admin,"}, True),
        ({"type": "websocket.receive", "text": '42["order", {}]'}, False),
        ({"type": "websocket.receive", "text": "3"}, False),
        ({"type": "websocket.receive", "bytes": b"41"}, False),
    ],
)
async def test_only_what_ends_a_socket_waits_for_the_pacer(message: dict[str, Any], paced: bool) -> None:
    class CountingPacer(DisconnectPacer):
        turns = 0

        async def turn(self) -> None:
            CountingPacer.turns += 1
            await super().turn()

    received: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        received.append(await receive())

    async def receive() -> dict[str, Any]:
        return message

    async def send(message: Any) -> None:
        raise AssertionError("nothing to send")

    await PacedDisconnects(app, CountingPacer())({"type": "websocket"}, receive, send)
    assert received == [message] and CountingPacer.turns == int(paced)
