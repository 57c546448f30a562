"""Pending updates ("pending, #k in line") wait a moment before they go out, and a decision made meanwhile
replaces them.

The buyer who placed the order already has its place in line from the 202. The pending event is for the
session's other sockets, and it puts them in the line's room for progress. At a sale's pace most orders are
decided a few milliseconds after they are queued (bench steady: queued -> outcome p50 4 ms), and then a
pending event followed by the decision is two socket writes, and two reads in the browser, for one change that
matters. Held for `delay` seconds, the pending update of an order that is decided meanwhile is simply dropped:
the socket gets the decision alone. An order still waiting after `delay` has its pending update sent as before.
"""

from collections.abc import Callable

from firstin_contracts import OrderQueued


class PendingUpdates:
    def __init__(self, *, delay: float, clock: Callable[[], float]):
        self.delay = delay
        self._clock = clock
        self._held: dict[str, tuple[float, OrderQueued]] = {}  # order id -> (held since, update), oldest first

    def hold(self, queued: OrderQueued) -> None:
        self._held[queued.order_id] = (self._clock(), queued)

    def supersede(self, order_id: str) -> bool:
        """The order was decided: its pending update, if still held, is dropped. True if one was."""
        return self._held.pop(order_id, None) is not None

    def due(self) -> list[OrderQueued]:
        """The updates held for `delay` seconds or more, oldest first; they are no longer held."""
        deadline = self._clock() - self.delay
        due: list[OrderQueued] = []
        for since, queued in self._held.values():
            if since > deadline:
                break
            due.append(queued)
        for queued in due:
            del self._held[queued.order_id]
        return due

    def __len__(self) -> int:
        return len(self._held)
