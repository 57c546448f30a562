from firstin_contracts import OrderQueued
from firstin_notifier.pending import PendingUpdates


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def queued(n: int) -> OrderQueued:
    return OrderQueued(
        order_id=f"sku-a.{n:032x}", sku="sku-a", email=f"b{n}@example.com", session_id=f"s{n}", quantity=1, position=n
    )


def test_updates_are_due_after_the_delay_oldest_first_and_only_once() -> None:
    clock = Clock()
    pending = PendingUpdates(delay=0.1, clock=clock)
    pending.hold(queued(1))
    clock.now += 0.05
    pending.hold(queued(2))
    assert pending.due() == []
    clock.now += 0.05
    assert [q.position for q in pending.due()] == [1]
    clock.now += 0.05
    assert [q.position for q in pending.due()] == [2]
    assert pending.due() == [] and len(pending) == 0


def test_a_decision_drops_the_held_update_of_its_order_only() -> None:
    clock = Clock()
    pending = PendingUpdates(delay=0.1, clock=clock)
    pending.hold(queued(1))
    pending.hold(queued(2))
    assert pending.supersede(queued(1).order_id) is True
    assert pending.supersede(queued(1).order_id) is False, "nothing left to drop"
    clock.now += 0.2
    assert [q.position for q in pending.due()] == [2]


def test_with_no_delay_every_update_is_due_at_once() -> None:
    pending = PendingUpdates(delay=0.0, clock=Clock())
    pending.hold(queued(1))
    assert [q.position for q in pending.due()] == [1]
