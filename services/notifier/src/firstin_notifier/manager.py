"""How emits reach sockets and how sockets leave rooms: python-socketio's client manager, made to cost per socket
what that socket uses, not what the whole server holds.

Plugged in through the library's extension point (`AsyncServer(client_manager=...)`). Two changes to
`socketio.AsyncManager` as of python-socketio 5.18:

- Leaving. The stock manager finds a leaving socket's rooms by scanning every room of the namespace (it copies
  the whole room table first), so each disconnect costs time in proportion to the sockets connected: 10,000
  sockets leaving at once cost 20-35 s of CPU, during which the sockets still waiting are served late. Here
  each socket's rooms are indexed, and a disconnect touches only those.
- Emitting. The stock emit starts one task per recipient and waits for them all. Every recipient here is a
  socket of one buyer session or of one product's line, and sending a packet only queues it on the socket
  (engine.io's writer task does the I/O), so the packet is encoded once and queued for each recipient in turn,
  through engine.io's public `send_packet`, which the stock manager reaches through the server.
"""

from collections import defaultdict
from typing import Any

import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet

RoomKey = tuple[str, str]  # (namespace, socket id)


class IndexedRoomsManager(socketio.AsyncManager):  # type: ignore[misc]  # untyped library
    def __init__(self) -> None:
        super().__init__()
        self._rooms_of: defaultdict[RoomKey, set[Any]] = defaultdict(set)

    def basic_enter_room(self, sid: str, namespace: str, room: Any, eio_sid: str | None = None) -> None:
        super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)
        self._rooms_of[namespace, sid].add(room)

    def basic_leave_room(self, sid: str, namespace: str, room: Any) -> None:
        super().basic_leave_room(sid, namespace, room)
        rooms = self._rooms_of.get((namespace, sid))
        if rooms is not None:
            rooms.discard(room)
            if not rooms:
                del self._rooms_of[namespace, sid]

    def basic_disconnect(self, sid: str, namespace: str, **kwargs: Any) -> None:
        # The stock method, with the scan of every room replaced by the socket's own rooms (its registration,
        # the None room, and its own sid room among them).
        for room in list(self._rooms_of.pop((namespace, sid), ())):
            super().basic_leave_room(sid, namespace, room)
        self.callbacks.pop(sid, None)
        for pending in (self.pending_connect, self.pending_disconnect):
            sids = pending.get(namespace)
            if sids is not None and sid in sids:
                sids.remove(sid)
                if not sids:
                    del pending[namespace]

    def get_rooms(self, sid: str, namespace: str) -> list[Any]:
        return [room for room in self._rooms_of.get((namespace, sid), ()) if room is not None]

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        if callback is not None or skip_sid is not None:
            await super().emit(event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, to=to, **kwargs)
            return
        args = list(data) if isinstance(data, tuple) else [] if data is None else [data]
        encoded = self.server.packet_class(sio_packet.EVENT, namespace=namespace, data=[event, *args]).encode()
        parts = encoded if isinstance(encoded, list) else [encoded]
        packets = [eio_packet.Packet(eio_packet.MESSAGE, p) for p in parts]
        for _sid, eio_sid in list(self.get_participants(namespace, to or room)):
            for p in packets:
                await self.server.eio.send_packet(eio_sid, p)
