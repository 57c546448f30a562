"""Live progress of a line: the processor publishes "now serving" (throttled), the notifier relays it to the
sockets with a pending order in that line and to the sockets watching the product (a visitor's, without a token,
among them), and to no one else."""

import asyncio
from collections.abc import Callable

import redis.asyncio as aioredis

from firstin_contracts import PROGRESS_CHANNEL, ProgressUpdated
from firstin_stack import FirstinClient, unique_email, unique_sku
from firstin_stack.client import ConnectionRefused

from .conftest import StackFactory


async def _until(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    """Poll a socket's recorded events with a deadline (the client records them as they arrive)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"not within {timeout}s: {what}")
        await asyncio.sleep(0.01)


async def test_waiting_sockets_see_progress_and_the_processor_publishes_it(private_stack: StackFactory, client_of):
    server, stack = private_stack()
    client = client_of(stack)
    redis_client = aioredis.Redis.from_url(server.url)
    sku = unique_sku("progress")
    await client.create_product(sku, stock=100)
    stack.processor.stop()  # the line stands still: the order stays pending

    waiting_email, idle_email = unique_email(), unique_email()
    waiting_token = await client.open_session(waiting_email)
    waiting = await client.listen_for(waiting_token)
    idle = await client.listen_for(await client.open_session(idle_email))
    seen: dict[str, list[dict[str, object]]] = {"waiting": [], "idle": []}
    waiting.client.on("progress", seen["waiting"].append)
    idle.client.on("progress", seen["idle"].append)
    order = (await client.place_order(waiting_email, sku, token=waiting_token)).json()
    # The pending state reaches the socket (after the pending delay), which puts it in the line's room.
    await _until(lambda: any(e["order_id"] == order["order_id"] for e in waiting.events), "pending event")

    update = ProgressUpdated(sku=sku, now_serving=0, stock_left=100, queue_length=1)
    await redis_client.publish(PROGRESS_CHANNEL, update.model_dump_json())
    await _until(lambda: bool(seen["waiting"]), "progress on the waiting socket")
    assert seen["waiting"] == [{"sku": sku, "now_serving": 0, "stock_left": 100, "queue_length": 1}]
    assert seen["idle"] == [], "progress goes only to sockets waiting in that line"

    pubsub = redis_client.pubsub()
    await pubsub.subscribe(PROGRESS_CHANNEL)
    assert (await pubsub.get_message(timeout=2))["type"] == "subscribe"
    stack.processor.start()
    await waiting.wait_for_final(order["order_id"])
    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
    assert message is not None, "the processor published the line's progress"
    published = ProgressUpdated.model_validate_json(message["data"])
    assert (published.sku, published.now_serving, published.stock_left) == (sku, order["position"], 99)
    await pubsub.aclose()
    await redis_client.aclose()


async def test_a_pending_event_waits_and_a_decision_made_meanwhile_replaces_it(private_stack: StackFactory, client_of):
    _, stack = private_stack(FIRSTIN_PENDING_EVENT_DELAY_SECONDS="1.5")
    client = client_of(stack)
    sku = unique_sku("supersede")
    await client.create_product(sku, stock=10)
    email = unique_email()
    token = await client.open_session(email)
    socket = await client.listen_for(token)

    decided_fast = (await client.place_order(email, sku, token=token)).json()
    await socket.wait_for_final(decided_fast["order_id"])

    stack.processor.stop()  # this one waits in line longer than the delay: its pending event goes out
    sent_at = asyncio.get_running_loop().time()
    waiting = (await client.place_order(email, sku, token=token)).json()
    await _until(lambda: any(e["order_id"] == waiting["order_id"] for e in socket.events), "the pending event")
    # Time itself is what is tested here: the notifier holds the update for the delay, from after the order was sent.
    held = asyncio.get_running_loop().time() - sent_at
    assert held >= 1.5, f"held for the delay, not {held:.2f} s"
    assert [(e["status"], e["position"]) for e in socket.events if e["order_id"] == waiting["order_id"]] == [
        ("pending", waiting["position"])
    ]
    # Sound: the notifier sends held updates oldest first, so the first order's, had it not been dropped when its
    # decision came, would have gone out before this one.
    assert [e["status"] for e in socket.events if e["order_id"] == decided_fast["order_id"]] == ["accepted"]
    stack.processor.start()
    assert (await socket.wait_for_final(waiting["order_id"]))["status"] == "accepted"
    assert [e["status"] for e in socket.events if e["order_id"] == waiting["order_id"]] == ["pending", "accepted"]


async def test_any_socket_can_watch_a_product_and_one_without_a_token_hears_nothing_but_progress(
    firstin: FirstinClient,
) -> None:
    sku = unique_sku("watch")
    await firstin.create_product(sku, stock=2)
    visitor = await firstin.listen_for(None, watch=sku)  # no token: a visitor who has not bought
    buyer_email = unique_email()
    buyer_token = await firstin.open_session(buyer_email)
    buyer = await firstin.listen_for(buyer_token)
    assert await buyer.watch(sku) == {"watching": [sku]}
    assert await visitor.watch("Not A Sku") == {"error": "invalid sku"}

    orders = [(await firstin.place_order(unique_email(), sku)).json() for _ in range(2)]
    await firstin.wait_until_decided([o["order_id"] for o in orders])
    # The line moved for everyone watching it, down to sold out, though neither socket had an order in it.
    for socket in (visitor, buyer):
        sold_out = await socket.wait_for_progress(lambda p: p["sku"] == sku and p["stock_left"] == 0)
        assert sold_out == {"sku": sku, "now_serving": 2, "stock_left": 0, "queue_length": 0}

    # The buyer's own order: the buyer hears it, the visitor must not. The visitor's acknowledged watch after it is
    # the barrier: the notifier had relayed the decision before, so an event of it to the visitor would have come.
    other = unique_sku("other")
    await firstin.create_product(other, stock=1)
    own = (await firstin.place_order(buyer_email, other, token=buyer_token)).json()
    await buyer.wait_for_final(own["order_id"])
    assert await visitor.watch(other) == {"watching": sorted([sku, other])}
    assert visitor.events == [] and visitor.replays == [], "a socket without a token hears no order event"
    assert {p["sku"] for p in visitor.progress} == {sku}


async def test_a_socket_without_a_token_is_refused_unless_it_only_watches_a_valid_product(
    firstin: FirstinClient,
) -> None:
    for auth_token, watch, reason in [
        (None, None, "missing token"),
        (None, "Not A Sku", "invalid sku"),
        ("forged", "default", "invalid token"),  # a token that is given must be valid, also to watch
    ]:
        try:
            await firstin.listen_for(auth_token, watch=watch)
        except ConnectionRefused as exc:
            assert str(exc) == reason
        else:
            raise AssertionError(f"connected with token={auth_token!r}, watch={watch!r}")
