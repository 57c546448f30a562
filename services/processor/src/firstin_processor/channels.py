"""The AsyncAPI document of every channel firstin's services exchange (served by the processor at /asyncapi).

Most of these messages are written by Lua scripts inside Redis (enqueue.lua in the api's enqueue transaction,
decide.lua in the processor), not by a FastStream publisher, so FastStream cannot find them in the code that uses
them. They are declared here, on a broker that is never connected, only to be described: each with its model
from libs/contracts as its schema, so the document cannot drift from the messages (tests/test_contracts_on_the_wire.py
checks what the scripts write against the same models).
"""

from faststream.redis import RedisBroker
from faststream.specification import AsyncAPI
from pydantic import BaseModel

from firstin_contracts import (
    ORDER_EVENT,
    OUTCOMES_CHANNEL,
    PROGRESS_CHANNEL,
    PROGRESS_EVENT,
    QUEUED_CHANNEL,
    REPLAYED_EVENT,
    SHUTDOWN_EVENT,
    UNWATCH_EVENT,
    WAKE_CHANNEL,
    WATCH_EVENT,
    OrderDecided,
    OrderQueued,
    OrdersDecided,
    OrderUpdate,
    PlaceOrder,
    ProductKeys,
    ProductQueued,
    ProgressUpdated,
)

# A product's line, with the hash tag standing for any sku.
ORDERS_LIST = ProductKeys("<sku>").queue

SOCKETIO_EVENTS: dict[str, tuple[str, type[BaseModel] | str]] = {
    ORDER_EVENT: (
        "a buyer session's sockets only: pending when the order joins the line, then its decision",
        OrderUpdate,
    ),
    PROGRESS_EVENT: (
        "sockets with a pending order in the product's line, and sockets watching it, at most 5 a second",
        ProgressUpdated,
    ),
    REPLAYED_EVENT: ("once the socket has the current state of its session's orders", '{"orders": n}'),
    SHUTDOWN_EVENT: ("before the notifier stops; the client reconnects", '{"reason": "..."}'),
}


# What a client sends: (what it does, payload).
SOCKETIO_CLIENT_EVENTS: dict[str, tuple[str, str]] = {
    WATCH_EVENT: ("hear a product's progress from then on, any socket; acknowledged {watching} or {error}", '{"sku"}'),
    UNWATCH_EVENT: ("stop hearing it", '{"sku"}'),
}


def _socketio_section() -> str:
    lines = [
        "Socket.IO events the notifier emits (path `/socket.io`, `auth: {token}` for a buyer, `{watch: sku}` for a "
        "visitor who only watches):",
        "",
    ]
    for event, (who, payload) in SOCKETIO_EVENTS.items():
        fields = [] if isinstance(payload, str) else [f for f in payload.model_fields if f != "schema_version"]
        shape = payload if isinstance(payload, str) else "{" + ", ".join(fields) + "}"
        lines.append(f"- `{event}` `{shape}`: {who}.")
    lines += ["", "Events a client sends:", ""]
    lines += [f"- `{event}` `{shape}`: {what}." for event, (what, shape) in SOCKETIO_CLIENT_EVENTS.items()]
    return "\n".join(lines)


def channels_document(broker: RedisBroker, redis_url: str) -> AsyncAPI:
    """The document of `broker` (the processor's own subscriptions) and of the channels written from Lua."""
    described = RedisBroker(redis_url)  # the same server: the document names it once

    @described.subscriber(
        list=ORDERS_LIST,
        title="orders",
        description="One list per product, in position order. The api's enqueue transaction RPUSHes each queued "
        "order (FastStream publish_batch, JSON envelope); decide.lua pops and decides them in the same atomic call.",
    )
    async def orders(message: PlaceOrder) -> None: ...

    described.publisher(
        channel=QUEUED_CHANNEL,
        title="queued",
        description="enqueue.lua publishes it as an order joins a line: the buyer session's sockets hear "
        "'pending, #k in line'.",
        schema=OrderQueued,
    )
    described.publisher(
        channel=WAKE_CHANNEL,
        title="wake",
        description="enqueue.lua publishes it when an order joins an empty line: an idle processor decides at once.",
        schema=ProductQueued,
    )
    described.publisher(
        channel=OUTCOMES_CHANNEL,
        title="outcomes",
        description="decide.lua publishes one message per batch of decisions of one product (each an "
        f"{OrderDecided.__name__}); every notifier relays each decision to the buyer session's sockets only.",
        schema=OrdersDecided,
    )
    described.publisher(
        channel=PROGRESS_CHANNEL,
        title="progress",
        description="The processor publishes a product's now serving, stock left and line length, a few times a "
        "second at most while the line moves.",
        schema=ProgressUpdated,
    )
    return AsyncAPI(
        broker,
        described,
        title="firstin",
        description="The messages firstin's api, processor and notifier exchange through Redis.\n\n"
        + _socketio_section(),
    )
