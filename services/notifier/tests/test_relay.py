"""The relay's policy, who hears what, through fakes: the relay's actions are carried out on FakeSockets, which
keeps rooms and records what each socket hears as python-socketio would, and time is a fake clock. The same
rules through real processes: tests/test_notifier_privacy.py, tests/test_order_flow.py, tests/test_progress.py."""

from collections import defaultdict
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from firstin_contracts import (
    ORDER_EVENT,
    PROGRESS_EVENT,
    REPLAYED_EVENT,
    BuyerSession,
    OrderDecided,
    OrderQueued,
    OrderRecord,
    OrderStatus,
    ProgressUpdated,
    RejectReason,
)
from firstin_notifier.pending import PendingUpdates
from firstin_notifier.relay import MAX_WATCHED, Action, Emit, Join, Leave, Relay, WatchRefused, line_room

ALICE = BuyerSession("alice@example.com", "s-alice")
BOB = BuyerSession("bob@example.com", "s-bob")
# Tokens that share one of Alice's two names but not both: neither alone says that a socket speaks for her.
ALICE_SESSION_OTHER_EMAIL = BuyerSession("mallory@example.com", "s-alice")
ALICE_EMAIL_OTHER_SESSION = BuyerSession("alice@example.com", "s-mallory")

PENDING, ACCEPTED, REJECTED = OrderStatus.PENDING, OrderStatus.ACCEPTED, OrderStatus.REJECTED


def order_id(n: int, sku: str = "shoes") -> str:
    return f"{sku}.{n:032x}"


def queued(n: int, session: BuyerSession, sku: str = "shoes") -> OrderQueued:
    return OrderQueued(
        order_id=order_id(n, sku), sku=sku, email=session.email, session_id=session.session_id, quantity=1, position=n
    )


def decided(n: int, session: BuyerSession, status: OrderStatus = ACCEPTED, sku: str = "shoes") -> OrderDecided:
    return OrderDecided(
        order_id=order_id(n, sku),
        sku=sku,
        email=session.email,
        session_id=session.session_id,
        quantity=1,
        position=n,
        status=status,
        reason=RejectReason.SOLD_OUT if status == REJECTED else None,
        decided_at=1_000,
        decision_seq=n,
    )


def record(n: int, session: BuyerSession, status: OrderStatus, sku: str = "shoes") -> OrderRecord:
    return OrderRecord(
        order_id=order_id(n, sku),
        sku=sku,
        email=session.email,
        session_id=session.session_id,
        quantity=1,
        position=n,
        status=status,
        reason=RejectReason.SOLD_OUT if status == REJECTED else None,
        created_at=500,
        decided_at=None if status == PENDING else 1_000,
    )


def progress(sku: str = "shoes") -> ProgressUpdated:
    return ProgressUpdated(sku=sku, now_serving=1, stock_left=9, queue_length=3)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeSockets:
    """Rooms and what each socket heard. As in python-socketio, each socket is alone in a room named by its sid."""

    def __init__(self) -> None:
        self.rooms: defaultdict[str, set[str]] = defaultdict(set)
        self.heard: defaultdict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)

    def connect(self, sid: str) -> None:
        self.rooms[sid].add(sid)

    def disconnect(self, sid: str) -> None:
        for members in self.rooms.values():
            members.discard(sid)

    def carry_out(self, actions: list[Action]) -> None:
        for action in actions:
            match action:
                case Emit(to, event, data):
                    for sid in sorted(self.rooms.get(to, ())):
                        self.heard[sid].append((event, data))
                case Join(sid, room):
                    assert sid not in self.rooms[room], f"{sid} joins {room} twice"
                    self.rooms[room].add(sid)
                case Leave(sid, room):
                    assert sid in self.rooms[room], f"{sid} leaves {room}, where it is not"
                    self.rooms[room].discard(sid)

    def rooms_of(self, sid: str) -> set[str]:
        return {room for room, members in self.rooms.items() if sid in members and room != sid}


class Notifier:
    """A Relay wired to fakes the way main.py wires it to python-socketio and the event loop."""

    def __init__(self, *, delay: float = 0.0):
        self.clock = FakeClock()
        self.superseded = 0
        self.relay = Relay(PendingUpdates(delay=delay, clock=self.clock), on_superseded=self._count_superseded)
        self.sockets = FakeSockets()

    def _count_superseded(self) -> None:
        self.superseded += 1

    def connect(self, sid: str, session: BuyerSession | None, *, watch: str | None = None) -> None:
        actions = self.relay.connect(sid, session, watch=watch)
        self.sockets.connect(sid)
        self.sockets.carry_out(actions)

    def watch(self, sid: str, sku: object) -> None:
        self.sockets.carry_out(self.relay.watch(sid, sku))

    def unwatch(self, sid: str, sku: object) -> None:
        self.sockets.carry_out(self.relay.unwatch(sid, sku))

    def disconnect(self, sid: str) -> None:
        self.relay.disconnect(sid)
        self.sockets.disconnect(sid)

    def queued(self, message: OrderQueued) -> None:
        self.sockets.carry_out(self.relay.queued(message))

    def decided(self, message: OrderDecided) -> None:
        self.sockets.carry_out(self.relay.decided(message))

    def replay(self, sid: str, records: list[OrderRecord]) -> None:
        self.sockets.carry_out(self.relay.replayed(sid, records))

    def progress(self, message: ProgressUpdated) -> None:
        self.sockets.carry_out(self.relay.progress(message))

    def wait(self, seconds: float) -> None:
        """Time passes; the held pending events that are due go out, as main.py's sender does."""
        self.clock.now += seconds
        for _, actions in self.relay.due():
            self.sockets.carry_out(actions)

    def orders(self, sid: str) -> list[tuple[str, str]]:
        """(order id, status) of each order event the socket heard, in order."""
        return [(data["order_id"], data["status"]) for event, data in self.sockets.heard[sid] if event == ORDER_EVENT]

    def events(self, sid: str) -> list[str]:
        return [event for event, _ in self.sockets.heard[sid]]


class TestWhoHears:
    def test_a_decision_reaches_every_socket_of_its_session_and_email_and_no_other(self) -> None:
        notifier = Notifier()
        notifier.connect("tab1", ALICE)
        notifier.connect("tab2", ALICE)
        notifier.connect("bob", BOB)
        notifier.connect("other-email", ALICE_SESSION_OTHER_EMAIL)
        notifier.connect("other-session", ALICE_EMAIL_OTHER_SESSION)

        notifier.decided(decided(1, ALICE))

        assert notifier.orders("tab1") == notifier.orders("tab2") == [(order_id(1), "accepted")]
        assert notifier.orders("bob") == []
        assert notifier.orders("other-email") == [], "the session alone is not enough: the email must match"
        assert notifier.orders("other-session") == [], "the email alone is not enough: the session must match"

    def test_a_pending_event_goes_by_the_same_rule(self) -> None:
        notifier = Notifier()
        notifier.connect("alice", ALICE)
        notifier.connect("other-email", ALICE_SESSION_OTHER_EMAIL)

        notifier.queued(queued(1, ALICE))

        assert notifier.orders("alice") == [(order_id(1), "pending")]
        assert notifier.orders("other-email") == []

    def test_the_order_event_carries_the_update(self) -> None:
        notifier = Notifier()
        notifier.connect("alice", ALICE)

        notifier.decided(decided(7, ALICE, REJECTED))

        assert notifier.sockets.heard["alice"] == [
            (
                ORDER_EVENT,
                {"order_id": order_id(7), "sku": "shoes", "status": "rejected", "reason": "sold_out", "position": 7},
            )
        ]


class TestOncePerChange:
    def test_a_status_already_told_is_not_told_again(self) -> None:
        notifier = Notifier()
        notifier.connect("alice", ALICE)

        notifier.queued(queued(1, ALICE))
        notifier.queued(queued(1, ALICE))
        notifier.decided(decided(1, ALICE))
        notifier.decided(decided(1, ALICE))

        assert notifier.orders("alice") == [(order_id(1), "pending"), (order_id(1), "accepted")]

    def test_nothing_follows_a_final_status(self) -> None:
        notifier = Notifier()
        notifier.connect("alice", ALICE)
        notifier.decided(decided(1, ALICE, REJECTED))

        notifier.queued(queued(1, ALICE))
        notifier.decided(decided(1, ALICE, ACCEPTED))
        notifier.replay("alice", [record(1, ALICE, PENDING)])

        assert notifier.orders("alice") == [(order_id(1), "rejected")]

    def test_each_socket_is_told_once_whichever_way_the_update_reached_the_others(self) -> None:
        notifier = Notifier()
        notifier.connect("tab1", ALICE)
        notifier.replay("tab1", [record(1, ALICE, ACCEPTED)])
        notifier.connect("tab2", ALICE)

        notifier.decided(decided(1, ALICE))

        assert notifier.orders("tab1") == notifier.orders("tab2") == [(order_id(1), "accepted")]


class TestPendingEvents:
    def test_a_pending_event_waits_for_the_delay(self) -> None:
        notifier = Notifier(delay=0.1)
        notifier.connect("alice", ALICE)

        notifier.queued(queued(1, ALICE))
        notifier.wait(0.05)
        assert notifier.orders("alice") == []
        notifier.wait(0.05)
        assert notifier.orders("alice") == [(order_id(1), "pending")]

    def test_a_decision_within_the_delay_goes_alone(self) -> None:
        notifier = Notifier(delay=0.1)
        notifier.connect("alice", ALICE)

        notifier.queued(queued(1, ALICE))
        notifier.wait(0.05)
        notifier.decided(decided(1, ALICE))
        notifier.wait(1.0)

        assert notifier.orders("alice") == [(order_id(1), "accepted")]
        assert notifier.superseded == 1

    def test_an_order_still_waiting_after_the_delay_gets_its_pending_event_then_its_decision(self) -> None:
        notifier = Notifier(delay=0.1)
        notifier.connect("alice", ALICE)

        notifier.queued(queued(1, ALICE))
        notifier.wait(0.1)
        notifier.decided(decided(1, ALICE))

        assert notifier.orders("alice") == [(order_id(1), "pending"), (order_id(1), "accepted")]
        assert notifier.superseded == 0

    def test_a_decision_drops_only_its_own_orders_pending_event(self) -> None:
        notifier = Notifier(delay=0.1)
        notifier.connect("alice", ALICE)

        notifier.queued(queued(1, ALICE))
        notifier.queued(queued(2, ALICE))
        notifier.decided(decided(1, ALICE))
        notifier.wait(0.1)

        assert notifier.orders("alice") == [(order_id(1), "accepted"), (order_id(2), "pending")]

    def test_without_a_delay_the_pending_event_goes_at_once(self) -> None:
        notifier = Notifier(delay=0.0)
        notifier.connect("alice", ALICE)

        notifier.queued(queued(1, ALICE))

        assert notifier.orders("alice") == [(order_id(1), "pending")]


class TestReplays:
    def test_a_replay_tells_the_socket_its_orders_then_replayed_with_their_number(self) -> None:
        notifier = Notifier()
        notifier.connect("alice", ALICE)

        notifier.replay("alice", [record(1, ALICE, ACCEPTED), record(2, ALICE, PENDING)])

        assert notifier.orders("alice") == [(order_id(1), "accepted"), (order_id(2), "pending")]
        assert notifier.sockets.heard["alice"][-1] == (REPLAYED_EVENT, {"orders": 2})

    def test_an_empty_replay_still_ends_with_replayed(self) -> None:
        notifier = Notifier()
        notifier.connect("alice", ALICE)

        notifier.replay("alice", [])

        assert notifier.sockets.heard["alice"] == [(REPLAYED_EVENT, {"orders": 0})]

    def test_a_replay_read_before_a_live_decision_does_not_take_it_back(self) -> None:
        notifier = Notifier()
        notifier.connect("alice", ALICE)
        notifier.decided(decided(1, ALICE))

        notifier.replay("alice", [record(1, ALICE, PENDING)])

        assert notifier.orders("alice") == [(order_id(1), "accepted")]
        # The order counts: the socket has its current state, told live.
        assert notifier.sockets.heard["alice"][-1] == (REPLAYED_EVENT, {"orders": 1})

    def test_a_live_decision_already_replayed_is_not_told_again(self) -> None:
        notifier = Notifier()
        notifier.connect("alice", ALICE)
        notifier.replay("alice", [record(1, ALICE, ACCEPTED)])

        notifier.decided(decided(1, ALICE))

        assert notifier.orders("alice") == [(order_id(1), "accepted")]

    def test_a_replay_goes_to_the_socket_it_is_for_only(self) -> None:
        notifier = Notifier()
        notifier.connect("tab1", ALICE)
        notifier.connect("tab2", ALICE)

        notifier.replay("tab2", [record(1, ALICE, ACCEPTED)])

        assert notifier.sockets.heard["tab1"] == []
        assert notifier.events("tab2") == [ORDER_EVENT, REPLAYED_EVENT]


class TestLines:
    def test_a_socket_told_of_a_pending_order_joins_its_line_and_hears_its_progress(self) -> None:
        notifier = Notifier()
        notifier.connect("alice", ALICE)
        notifier.connect("bob", BOB)
        notifier.queued(queued(1, ALICE, sku="shoes"))
        notifier.queued(queued(2, BOB, sku="hats"))

        notifier.progress(progress("shoes"))

        assert notifier.sockets.rooms_of("alice") == {line_room("shoes")}
        assert notifier.events("alice") == [ORDER_EVENT, PROGRESS_EVENT]
        assert notifier.events("bob") == [ORDER_EVENT], "another line's progress is not bob's"

    def test_a_socket_stays_in_line_while_any_of_its_orders_waits_there_and_leaves_with_the_last(self) -> None:
        notifier = Notifier()
        notifier.connect("alice", ALICE)
        notifier.queued(queued(1, ALICE))
        notifier.queued(queued(2, ALICE))

        notifier.decided(decided(1, ALICE))
        assert notifier.sockets.rooms_of("alice") == {line_room("shoes")}
        notifier.decided(decided(2, ALICE, REJECTED))
        assert notifier.sockets.rooms_of("alice") == set()

        notifier.progress(progress("shoes"))
        assert PROGRESS_EVENT not in notifier.events("alice")

    def test_lines_are_left_one_product_at_a_time(self) -> None:
        notifier = Notifier()
        notifier.connect("alice", ALICE)
        notifier.queued(queued(1, ALICE, sku="shoes"))
        notifier.queued(queued(2, ALICE, sku="hats"))

        notifier.decided(decided(1, ALICE, sku="shoes"))

        assert notifier.sockets.rooms_of("alice") == {line_room("hats")}

    def test_a_replayed_pending_order_puts_the_socket_in_line_and_its_replayed_decision_takes_it_out(self) -> None:
        notifier = Notifier()
        notifier.connect("alice", ALICE)

        notifier.replay("alice", [record(1, ALICE, PENDING)])
        assert notifier.sockets.rooms_of("alice") == {line_room("shoes")}
        notifier.replay("alice", [record(1, ALICE, ACCEPTED)])
        assert notifier.sockets.rooms_of("alice") == set()

    def test_a_decision_told_without_a_pending_event_touches_no_room(self) -> None:
        notifier = Notifier(delay=0.1)
        notifier.connect("alice", ALICE)
        notifier.queued(queued(1, ALICE))

        actions = notifier.relay.decided(decided(1, ALICE))

        assert [type(action) for action in actions] == [Emit]

    def test_progress_goes_to_the_line_room_without_the_schema_version(self) -> None:
        expected = {"sku": "shoes", "now_serving": 1, "stock_left": 9, "queue_length": 3}
        assert Notifier().relay.progress(progress("shoes")) == [Emit(line_room("shoes"), PROGRESS_EVENT, expected)]


class TestWatching:
    def test_a_visitor_without_a_session_hears_the_progress_of_what_it_watches_and_no_order(self) -> None:
        notifier = Notifier()
        notifier.connect("visitor", None, watch="shoes")
        notifier.connect("alice", ALICE)
        notifier.queued(queued(1, ALICE))
        notifier.decided(decided(1, ALICE))
        notifier.decided(decided(2, BOB))
        notifier.replay("visitor", [record(3, ALICE, ACCEPTED)])

        notifier.progress(progress("shoes"))
        notifier.progress(progress("hats"))

        assert notifier.events("visitor") == [PROGRESS_EVENT]
        assert notifier.sockets.heard["visitor"][0][1]["sku"] == "shoes"
        assert notifier.relay.sessions() == [("alice", ALICE)], "a visitor is owed no replay"

    def test_any_socket_may_watch_after_connecting_and_stop(self) -> None:
        notifier = Notifier()
        notifier.connect("visitor", None, watch="shoes")
        notifier.connect("bob", BOB)

        notifier.watch("visitor", "hats")
        notifier.watch("bob", "hats")
        notifier.progress(progress("hats"))
        notifier.unwatch("visitor", "hats")
        notifier.unwatch("bob", "hats")
        notifier.progress(progress("hats"))

        assert notifier.events("visitor") == notifier.events("bob") == [PROGRESS_EVENT]
        assert notifier.relay.watched("visitor") == ["shoes"]
        assert notifier.sockets.rooms_of("visitor") == {line_room("shoes")}
        assert notifier.sockets.rooms_of("bob") == set()

    def test_a_buyer_watching_its_own_line_hears_each_progress_once_and_keeps_watching_after_its_decision(
        self,
    ) -> None:
        notifier = Notifier()
        notifier.connect("alice", ALICE, watch="shoes")
        notifier.queued(queued(1, ALICE))
        notifier.progress(progress("shoes"))
        notifier.decided(decided(1, ALICE))
        notifier.progress(progress("shoes"))

        assert notifier.events("alice") == [ORDER_EVENT, PROGRESS_EVENT, ORDER_EVENT, PROGRESS_EVENT]
        assert notifier.sockets.rooms_of("alice") == {line_room("shoes")}

    def test_unwatching_a_line_with_a_pending_order_in_it_keeps_the_socket_there_until_the_decision(self) -> None:
        notifier = Notifier()
        notifier.connect("alice", ALICE)
        notifier.watch("alice", "shoes")
        notifier.queued(queued(1, ALICE))

        notifier.unwatch("alice", "shoes")
        assert notifier.sockets.rooms_of("alice") == {line_room("shoes")}
        notifier.decided(decided(1, ALICE))
        assert notifier.sockets.rooms_of("alice") == set()

    def test_watching_twice_is_watching_once(self) -> None:
        notifier = Notifier()
        notifier.connect("visitor", None, watch="shoes")

        assert notifier.relay.watch("visitor", "shoes") == []
        assert notifier.relay.watched("visitor") == ["shoes"]

    def test_what_cannot_be_watched(self) -> None:
        notifier = Notifier()
        notifier.connect("visitor", None)
        for sku in ("", "Shoes", "a" * 49, "../x", 7, None, ["shoes"]):
            try:
                notifier.relay.watch("visitor", sku)
            except WatchRefused as exc:
                assert str(exc) == "invalid sku"
            else:
                raise AssertionError(f"{sku!r} was watched")
        for n in range(MAX_WATCHED):
            notifier.watch("visitor", f"p{n}")
        try:
            notifier.relay.watch("visitor", "one-more")
        except WatchRefused as exc:
            assert str(exc) == "too many products"
        else:
            raise AssertionError(f"more than {MAX_WATCHED} products watched")
        try:
            notifier.relay.watch("gone", "shoes")
        except WatchRefused as exc:
            assert str(exc) == "not connected"
        else:
            raise AssertionError("a socket that is not connected watched")
        assert notifier.relay.unwatch("visitor", 7) == notifier.relay.unwatch("visitor", "never-watched") == []

    def test_a_connection_asking_to_watch_an_invalid_sku_is_not_kept(self) -> None:
        relay = Notifier().relay
        try:
            relay.connect("visitor", ALICE, watch="No Such Thing")
        except WatchRefused:
            pass
        else:
            raise AssertionError("connected with an invalid watch")
        assert not relay.is_connected("visitor")
        assert relay.sessions() == []

    def test_a_watcher_leaving_is_forgotten(self) -> None:
        notifier = Notifier()
        notifier.connect("visitor", None, watch="shoes")

        assert notifier.relay.disconnect("visitor") is True
        assert notifier.relay.is_connected("visitor") is False
        assert notifier.relay.watched("visitor") == []


class TestDisconnect:
    def test_a_socket_that_left_is_forgotten_and_hears_nothing_more(self) -> None:
        notifier = Notifier(delay=0.1)
        notifier.connect("tab1", ALICE)
        notifier.connect("tab2", ALICE)
        notifier.queued(queued(1, ALICE))

        assert notifier.relay.disconnect("tab1") is True
        notifier.sockets.disconnect("tab1")
        notifier.wait(0.1)
        notifier.decided(decided(2, ALICE))

        assert notifier.sockets.heard["tab1"] == []
        assert notifier.orders("tab2") == [(order_id(1), "pending"), (order_id(2), "accepted")]
        assert notifier.relay.replayed("tab1", [record(1, ALICE, ACCEPTED)]) == []
        assert notifier.relay.is_connected("tab1") is False
        assert notifier.relay.sessions() == [("tab2", ALICE)]
        assert notifier.relay.disconnect("tab1") is False, "already forgotten"

    def test_the_last_socket_of_a_session_leaving_leaves_nothing_behind(self) -> None:
        notifier = Notifier()
        notifier.connect("alice", ALICE)
        notifier.queued(queued(1, ALICE))

        notifier.disconnect("alice")

        assert notifier.relay.sessions() == []
        assert notifier.relay.decided(decided(1, ALICE)) == []

    def test_a_new_socket_of_the_session_is_told_afresh(self) -> None:
        notifier = Notifier()
        notifier.connect("old", ALICE)
        notifier.decided(decided(1, ALICE))
        notifier.disconnect("old")

        notifier.connect("new", ALICE)
        notifier.replay("new", [record(1, ALICE, ACCEPTED)])

        assert notifier.orders("new") == [(order_id(1), "accepted")]


# One order's updates as they can reach one socket: its live pending event, time passing (held pending events go
# out), replays read before and after the decision (each delivered whenever), and the live decision.
ARRIVALS = ["queued", "wait", "replay read before", "replay read after"]


@settings(max_examples=300, deadline=None)
@given(
    arrivals=st.lists(st.sampled_from(ARRIVALS), max_size=12),
    decision_at=st.integers(min_value=0, max_value=12),
    final=st.sampled_from([ACCEPTED, REJECTED]),
    delay=st.sampled_from([0.0, 0.1]),
)
def test_any_interleaving_tells_the_final_status_once_and_nothing_after_it(
    arrivals: list[str], decision_at: int, final: OrderStatus, delay: float
) -> None:
    notifier = Notifier(delay=delay)
    notifier.connect("alice", ALICE)
    arrivals = [*arrivals[:decision_at], "decided", *arrivals[decision_at:]]
    for arrival in arrivals:
        match arrival:
            case "queued":
                notifier.queued(queued(1, ALICE))
            case "wait":
                notifier.wait(delay)
            case "replay read before":
                notifier.replay("alice", [record(1, ALICE, PENDING)])
            case "replay read after":
                notifier.replay("alice", [record(1, ALICE, final)])
            case "decided":
                notifier.decided(decided(1, ALICE, final))
    notifier.wait(delay)

    statuses = [status for _, status in notifier.orders("alice")]
    assert statuses in (["pending", final.value], [final.value]), statuses
    assert notifier.sockets.rooms_of("alice") == set(), "out of the line once decided"


# One socket's reasons to hear a line's progress, in any order: watching it, and orders of its own waiting there.
ROOM_STEPS = ["watch", "unwatch", "queued 1", "decided 1", "queued 2", "decided 2"]


@settings(max_examples=300, deadline=None)
@given(steps=st.lists(st.sampled_from(ROOM_STEPS), max_size=14))
def test_a_socket_is_in_a_line_room_exactly_while_it_watches_or_waits_there(steps: list[str]) -> None:
    notifier = Notifier()
    notifier.connect("alice", ALICE)
    watching, waiting = False, set()
    for step in steps:
        match step.split():
            case ["watch"]:
                notifier.watch("alice", "shoes")
                watching = True
            case ["unwatch"]:
                notifier.unwatch("alice", "shoes")
                watching = False
            case ["queued", n]:
                notifier.queued(queued(int(n), ALICE))
                if (order_id(int(n)), "accepted") not in notifier.orders("alice"):
                    waiting.add(n)
            case ["decided", n]:
                notifier.decided(decided(int(n), ALICE))
                waiting.discard(n)
        in_room = notifier.sockets.rooms_of("alice") == {line_room("shoes")}
        assert in_room == (watching or bool(waiting)), (steps, watching, waiting)
    notifier.progress(progress("shoes"))
    assert notifier.events("alice").count(PROGRESS_EVENT) == (1 if watching or waiting else 0)
