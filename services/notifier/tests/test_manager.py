"""IndexedRoomsManager keeps the same rooms as python-socketio's own manager, whatever sockets do, while a
disconnect touches only the leaving socket's rooms."""

import asyncio
from typing import Any

import socketio
from hypothesis import given, settings
from hypothesis import strategies as st

from firstin_notifier.manager import IndexedRoomsManager

NAMESPACE = "/"
SOCKETS = [f"eio{i}" for i in range(4)]
ROOMS = ["session:a", "session:b", "line:x", "line:y"]

# connect(socket), enter(socket, room), leave(socket, room), disconnect(socket)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("connect"), st.sampled_from(SOCKETS)),
        st.tuples(st.just("enter"), st.sampled_from(SOCKETS), st.sampled_from(ROOMS)),
        st.tuples(st.just("leave"), st.sampled_from(SOCKETS), st.sampled_from(ROOMS)),
        st.tuples(st.just("disconnect"), st.sampled_from(SOCKETS)),
    ),
    max_size=40,
)


def _server(manager: socketio.AsyncManager) -> socketio.AsyncServer:
    return socketio.AsyncServer(async_mode="asgi", client_manager=manager)


async def _apply(manager: socketio.AsyncManager, ops: list[tuple[str, ...]]) -> dict[str, str]:
    sids: dict[str, str] = {}  # engine.io sid -> socket.io sid, for the sockets connected now
    for op, eio_sid, *room in ops:
        sid = sids.get(eio_sid)
        if op == "connect" and sid is None:
            sids[eio_sid] = await manager.connect(eio_sid, NAMESPACE)
        elif op == "enter" and sid is not None:
            await manager.enter_room(sid, NAMESPACE, room[0])
        elif op == "leave" and sid is not None:
            await manager.leave_room(sid, NAMESPACE, room[0])
        elif op == "disconnect" and sid is not None:
            await manager.disconnect(sid, NAMESPACE)
            del sids[eio_sid]
    return sids


def _rooms_by_eio_sid(manager: socketio.AsyncManager, sids: dict[str, str]) -> dict[Any, set[str]]:
    """The room table with every socket.io sid (random per manager) replaced by its engine.io sid."""
    eio_of = {sid: eio for eio, sid in sids.items()}
    table: dict[Any, set[str]] = {}
    for room, members in manager.rooms.get(NAMESPACE, {}).items():
        name = eio_of.get(room, room) if room is not None else None
        table[name] = {eio_of[sid] for sid in members}
    return table


def _rooms_of(manager: socketio.AsyncManager, sids: dict[str, str], eio_sid: str) -> set[str]:
    """get_rooms of one socket, its own sid room named by its engine.io sid."""
    sid = sids[eio_sid]
    return {eio_sid if room == sid else room for room in manager.get_rooms(sid, NAMESPACE)}


@settings(max_examples=300, deadline=None)
@given(operations)
def test_rooms_match_the_stock_manager_after_any_sequence(ops: list[tuple[str, ...]]) -> None:
    async def run() -> None:
        stock, indexed = socketio.AsyncManager(), IndexedRoomsManager()
        for manager in (stock, indexed):
            _server(manager)
        stock_sids = await _apply(stock, ops)
        indexed_sids = await _apply(indexed, ops)
        assert _rooms_by_eio_sid(indexed, indexed_sids) == _rooms_by_eio_sid(stock, stock_sids)
        for eio_sid in indexed_sids:
            assert _rooms_of(indexed, indexed_sids, eio_sid) == _rooms_of(stock, stock_sids, eio_sid)
        assert not indexed._rooms_of.keys() - {(NAMESPACE, sid) for sid in indexed_sids.values()}, "nothing kept"

    asyncio.run(run())


async def test_a_disconnect_does_not_look_at_other_sockets_rooms() -> None:
    """The stock manager scans (and copies) every room of the namespace on each disconnect."""
    manager = IndexedRoomsManager()
    _server(manager)
    sids = [await manager.connect(f"eio{i}", NAMESPACE) for i in range(3)]
    for i, sid in enumerate(sids):
        await manager.enter_room(sid, NAMESPACE, f"session:{i}")

    class Untouchable(dict[Any, Any]):
        def copy(self) -> dict[Any, Any]:
            raise AssertionError("the room table was copied")

        def items(self) -> Any:
            raise AssertionError("the room table was scanned")

    manager.rooms[NAMESPACE] = Untouchable(manager.rooms[NAMESPACE])
    await manager.disconnect(sids[0], NAMESPACE)
    assert sids[0] not in manager.rooms[NAMESPACE][None]
    assert "session:0" not in manager.rooms[NAMESPACE]
    assert set(manager.rooms[NAMESPACE]["session:1"]) == {sids[1]}
