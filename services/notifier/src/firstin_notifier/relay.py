"""Who hears what: the notifier's relay policy, kept apart from sockets, Redis and the event loop.

- A socket speaks for the buyer session its token names (a session id and an email) and hears the orders placed
  under that session and email only. Anyone can type anyone's email into an order form, so the email alone
  proves nothing: the session must match, and the email too (as replay.py checks each record it reads).
- Each order reaches a socket as a series of changes: a status the socket was already told is not told again,
  and nothing follows a final status. A decision can reach a socket twice (live, and in the replay of a socket
  that just connected), and a replay read before the decision must not take it back to "pending".
- A pending event waits a moment, and is dropped if the order's decision comes meanwhile (pending.py).
- A socket told of a pending order is in that product's line and hears its progress, until none of the orders
  it was told of in that line is pending.
- Any socket may also watch a product's progress (it is public, like GET /products/{sku}), up to MAX_WATCHED
  products at a time, with or without a buyer session. A socket without one (a visitor who has not bought) hears
  progress only, never an order event: it speaks for nobody.
- A replay tells a socket the current state of its session's recent orders, then `replayed` {"orders": n}.

`Relay` decides and returns plain actions (`Emit`, `Join`, `Leave`); main.py has them carried out, in order,
on the python-socketio server (server.py).
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from firstin_contracts import (
    ORDER_EVENT,
    PROGRESS_EVENT,
    REPLAYED_EVENT,
    BuyerSession,
    OrderDecided,
    OrderQueued,
    OrderRecord,
    OrderStatus,
    OrderUpdate,
    ProgressUpdated,
    is_valid_sku,
)
from firstin_notifier.pending import PendingUpdates

FINAL_STATUSES = frozenset({OrderStatus.ACCEPTED, OrderStatus.REJECTED})
# Products one socket may watch at once: a page shows a few; the bound keeps one socket from making rooms
# without end.
MAX_WATCHED = 16


def line_room(sku: str) -> str:
    """The room of the sockets that hear this product's progress: those with a pending order in its line, and
    those watching it."""
    return f"line:{sku}"


class WatchRefused(ValueError):
    """A watch the relay does not allow; the message is the reason the client is given."""


def _is_sku(sku: object) -> TypeGuard[str]:
    return isinstance(sku, str) and is_valid_sku(sku)


@dataclass(frozen=True, slots=True)
class Emit:
    """Send an event to one socket (`to` is its sid) or to every socket in a room (`to` is the room)."""

    to: str
    event: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Join:
    sid: str
    room: str


@dataclass(frozen=True, slots=True)
class Leave:
    sid: str
    room: str


Action = Emit | Join | Leave


@dataclass(slots=True)
class _Socket:
    session: BuyerSession | None  # None: a watcher without a buyer token
    told: dict[str, OrderStatus] = field(default_factory=dict)  # order id -> the last status the socket was told
    lines: dict[str, set[str]] = field(default_factory=dict)  # sku -> ids of the orders told pending in that line
    # The skus whose progress the socket asked for; made on the first watch, so that a buyer socket that watches
    # nothing costs nothing more to connect.
    watching: set[str] | None = None

    def follows(self, sku: str) -> bool:
        return (self.watching is not None and sku in self.watching) or bool(self.lines.get(sku))


class Relay:
    def __init__(self, pending: PendingUpdates, *, on_superseded: Callable[[], object] = lambda: None):
        self._pending = pending
        self._on_superseded = on_superseded
        self._sockets: dict[str, _Socket] = {}
        # (session id, email) -> the sids that speak for it, in connection order (a dict as an ordered set).
        self._audiences: dict[tuple[str, str], dict[str, None]] = {}

    def connect(self, sid: str, session: BuyerSession | None, *, watch: object = None) -> list[Action]:
        """A socket that speaks for a buyer session, or (None) for nobody: then it may only watch products. With
        `watch`, it watches that product from the start. Raises WatchRefused (and forgets the socket) for a watch
        the relay does not allow."""
        if watch is not None and not _is_sku(watch):
            raise WatchRefused("invalid sku")
        self._sockets[sid] = _Socket(session)
        if session is not None:
            self._audiences.setdefault((session.session_id, session.email), {})[sid] = None
        return [] if watch is None else self.watch(sid, watch)

    def disconnect(self, sid: str) -> bool:
        """Forget the socket and all it was told. False if it was not connected."""
        socket = self._sockets.pop(sid, None)
        if socket is None:
            return False
        if socket.session is not None:
            audience = (socket.session.session_id, socket.session.email)
            sids = self._audiences[audience]
            del sids[sid]
            if not sids:
                del self._audiences[audience]
        return True

    def is_connected(self, sid: str) -> bool:
        return sid in self._sockets

    def socket_count(self) -> int:
        """Sockets connected, buyers' and visitors' alike."""
        return len(self._sockets)

    def sessions(self) -> list[tuple[str, BuyerSession]]:
        """Every connected socket of a buyer session with its session, in connection order."""
        return [(sid, socket.session) for sid, socket in self._sockets.items() if socket.session is not None]

    def watch(self, sid: str, sku: object) -> list[Action]:
        """The socket hears the product's progress from now on. Raises WatchRefused."""
        socket = self._sockets.get(sid)
        if socket is None:
            raise WatchRefused("not connected")
        if not _is_sku(sku):
            raise WatchRefused("invalid sku")
        watching = socket.watching if socket.watching is not None else set()
        if sku in watching:
            return []
        if len(watching) >= MAX_WATCHED:
            raise WatchRefused("too many products")
        joins = not socket.follows(sku)
        watching.add(sku)
        socket.watching = watching
        return [Join(sid, line_room(sku))] if joins else []

    def unwatch(self, sid: str, sku: object) -> list[Action]:
        """The socket stops hearing the product's progress, unless it has a pending order in its line."""
        socket = self._sockets.get(sid)
        if socket is None or socket.watching is None or not isinstance(sku, str) or sku not in socket.watching:
            return []
        socket.watching.discard(sku)
        return [] if socket.follows(sku) else [Leave(sid, line_room(sku))]

    def watched(self, sid: str) -> list[str]:
        """The products the socket watches, sorted."""
        socket = self._sockets.get(sid)
        return sorted(socket.watching or ()) if socket is not None else []

    def queued(self, queued: OrderQueued) -> list[Action]:
        """An order joined its line. Its pending event is held for the delay, or goes at once without one."""
        if self._pending.delay > 0:
            self._pending.hold(queued)
            return []
        return self._tell_pending(queued)

    def due(self) -> Iterator[tuple[str, list[Action]]]:
        """(order id, actions) for each held pending event whose delay is over, oldest first.

        Lazy: each order's actions are decided when the previous one's have been carried out, as if each had
        arrived on its own."""
        for queued in self._pending.due():
            yield queued.order_id, self._tell_pending(queued)

    def decided(self, decision: OrderDecided) -> list[Action]:
        if self._pending.supersede(decision.order_id):
            self._on_superseded()
        return self._tell_audience(decision.session_id, decision.email, OrderUpdate.of(decision))

    def replayed(self, sid: str, records: list[OrderRecord]) -> list[Action]:
        """A socket's replay: its session's orders as read from their records (replay.py reads only its own),
        then `replayed`. Nothing for a socket that has left."""
        socket = self._sockets.get(sid)
        if socket is None or socket.session is None:
            return []
        actions: list[Action] = []
        for record in records:
            self._tell(sid, socket, OrderUpdate.of(record), actions)
        actions.append(Emit(sid, REPLAYED_EVENT, {"orders": len(records)}))
        return actions

    def progress(self, progress: ProgressUpdated) -> list[Action]:
        return [Emit(line_room(progress.sku), PROGRESS_EVENT, progress.model_dump(exclude={"schema_version"}))]

    def _tell_pending(self, queued: OrderQueued) -> list[Action]:
        update = OrderUpdate(
            order_id=queued.order_id, sku=queued.sku, status=OrderStatus.PENDING, position=queued.position
        )
        return self._tell_audience(queued.session_id, queued.email, update)

    def _tell_audience(self, session_id: str, email: str, update: OrderUpdate) -> list[Action]:
        actions: list[Action] = []
        for sid in self._audiences.get((session_id, email), ()):
            self._tell(sid, self._sockets[sid], update, actions)
        return actions

    def _tell(self, sid: str, socket: _Socket, update: OrderUpdate, actions: list[Action]) -> None:
        previous = socket.told.get(update.order_id)
        if previous == update.status or previous in FINAL_STATUSES:
            return
        socket.told[update.order_id] = update.status
        actions.append(Emit(sid, ORDER_EVENT, update.model_dump(mode="json")))
        if update.status == OrderStatus.PENDING:
            if not socket.follows(update.sku):
                actions.append(Join(sid, line_room(update.sku)))
            socket.lines.setdefault(update.sku, set()).add(update.order_id)
        elif previous == OrderStatus.PENDING:
            waiting = socket.lines.get(update.sku, set())
            waiting.discard(update.order_id)
            if not waiting:
                socket.lines.pop(update.sku, None)
                if not socket.follows(update.sku):
                    actions.append(Leave(sid, line_room(update.sku)))
