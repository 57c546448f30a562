"""The whole flow through real processes: HTTP in, decision in Redis, outcome on the buyer's own socket."""

import asyncio
import json

import redis.asyncio as aioredis

from firstin_contracts import OrderRecord, ProductKeys
from firstin_stack import BuyerSocket, FirstinClient, unique_email, unique_sku

from .sale import barrier


async def test_stampede_sells_exactly_the_stock_to_the_first_in_line(firstin: FirstinClient) -> None:
    sku = unique_sku("stampede")
    await firstin.create_product(sku, stock=5)
    emails = [unique_email() for _ in range(200)]

    async def buy(email: str) -> tuple[str, int, dict[str, object], BuyerSocket | None]:
        response = await firstin.place_order(email, sku)
        body = response.json()
        socket = await firstin.listen_for(body["token"]) if response.status_code == 202 else None
        return email, response.status_code, body, socket

    results = await asyncio.gather(*(buy(e) for e in emails))

    queued = [(email, body, socket) for email, status, body, socket in results if status == 202]
    at_door = [body for _, status, body, _ in results if status == 409]
    assert len(queued) + len(at_door) == 200
    assert all(body == {"status": "rejected", "reason": "sold_out"} for body in at_door)

    finals = {}
    listeners = []
    for email, body, socket in queued:
        assert socket is not None
        event = await socket.wait_for_final(str(body["order_id"]))
        finals[body["order_id"]] = (body["position"], event)
        listeners.append((email, str(body["token"]), [socket]))
    # Sound: on each socket, a duplicate or stray event of the stampede would arrive before its barrier event.
    barrier_orders = await barrier(firstin, listeners)

    by_position = sorted(finals.values(), key=lambda pe: pe[0])
    assert [e["status"] for _, e in by_position[:5]] == ["accepted"] * 5
    assert all(e["status"] == "rejected" and e["reason"] == "sold_out" for _, e in by_position[5:])
    for (_, body, socket), barrier_order in zip(queued, barrier_orders, strict=True):
        assert socket is not None
        told = [e["order_id"] for e in socket.finals()]
        assert told == [body["order_id"], barrier_order], "exactly one event of the stampede, and its own"
    product = await firstin.get_product(sku)
    assert product["stock_left"] == 0 and product["sold_out"] is True
    assert (await firstin.place_order(unique_email(), sku)).status_code == 409


async def test_positions_are_gapless_and_decisions_follow_them(
    firstin: FirstinClient, redis_client: aioredis.Redis
) -> None:
    sku = unique_sku("fifo")
    await firstin.create_product(sku, stock=1000)
    responses = await asyncio.gather(*(firstin.place_order(unique_email(), sku) for _ in range(150)))
    assert {r.status_code for r in responses} == {202}
    positions = sorted(r.json()["position"] for r in responses)
    assert positions == list(range(1, 151))

    records = await firstin.wait_until_decided([r.json()["order_id"] for r in responses])
    assert all(r["status"] == "accepted" for r in records)
    raw = await redis_client.hvals(ProductKeys(sku).orders)
    stored = sorted((OrderRecord.model_validate_json(v) for v in raw), key=lambda r: r.position)
    assert [r.decision_seq for r in stored] == list(range(1, 151)), "decided in position order"


async def test_outcome_decided_before_the_socket_connects_arrives_on_connect(firstin: FirstinClient) -> None:
    sku = unique_sku("late")
    await firstin.create_product(sku, stock=2)
    email = unique_email()
    first = (await firstin.place_order(email, sku)).json()
    second = (await firstin.place_order(email, sku, quantity=2, token=first["token"])).json()
    await firstin.wait_until_decided([first["order_id"], second["order_id"]])

    socket = await firstin.listen_for(second["token"])

    assert (await socket.wait_for_final(first["order_id"]))["status"] == "accepted"
    rejected = await socket.wait_for_final(second["order_id"])
    assert rejected["status"] == "rejected" and rejected["reason"] == "insufficient_stock"
    assert rejected["position"] == second["position"]


async def test_order_status_goes_from_pending_to_decided(firstin: FirstinClient) -> None:
    sku = unique_sku("status")
    await firstin.create_product(sku, stock=3, per_customer_limit=2)
    email = unique_email()
    placed = await firstin.place_order(email, sku, quantity=2)
    assert placed.status_code == 202
    assert placed.headers["location"] == f"/orders/{placed.json()['order_id']}"
    over_limit = await firstin.place_order(email, sku, quantity=1)
    first, second = await firstin.wait_until_decided([placed.json()["order_id"], over_limit.json()["order_id"]])
    # Only now is there room at the door (1 left, nothing waiting): while the first two wait in line, their 3 items
    # fill it, and an order would be turned away at the door (409) instead of reaching the processor.
    too_many = await firstin.place_order(unique_email(), sku, quantity=2)
    (third,) = await firstin.wait_until_decided([too_many.json()["order_id"]])
    assert (first["status"], first["reason"]) == ("accepted", None)
    assert (second["status"], second["reason"]) == ("rejected", "limit_exceeded")
    assert (third["status"], third["reason"]) == ("rejected", "insufficient_stock")
    assert first["decided_at"] is not None and first["created_at"] <= first["decided_at"]
    product = await firstin.get_product(sku)
    assert (product["stock_total"], product["stock_left"], product["sold_out"]) == (3, 1, False)


async def test_poison_message_is_dead_lettered_and_the_line_moves_on(
    firstin: FirstinClient, redis_client: aioredis.Redis
) -> None:
    sku = unique_sku("poison")
    await firstin.create_product(sku, stock=2)
    keys = ProductKeys(sku)
    await redis_client.rpush(keys.queue, b"\x00 definitely not an order", b'{"data": "{\\"order_id\\": 7}"}')

    placed = await firstin.place_order(unique_email(), sku)
    (record,) = await firstin.wait_until_decided([placed.json()["order_id"]])

    assert record["status"] == "accepted"
    letters = [json.loads(raw) for raw in await redis_client.lrange(keys.dead_letters, 0, -1)]
    assert [letter["reason"] for letter in letters] == ["undecodable", "invalid_fields"]
    assert letters[0]["message"].startswith("\x00 definitely")


async def test_tutorial_buy_endpoint_orders_the_default_product(firstin: FirstinClient) -> None:
    await firstin.create_product("default", stock=5)
    response = await firstin.http.post("/buy", json={"email": unique_email()})
    assert response.status_code == 202
    assert response.json()["sku"] == "default"
    (record,) = await firstin.wait_until_decided([response.json()["order_id"]])
    assert record["status"] in {"accepted", "rejected"}
