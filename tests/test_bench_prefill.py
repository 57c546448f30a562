"""The processor benchmark's pre-filled orders are the api's: same queued message, same pending record, same
counters, and the processor decides them in line with orders placed through the api."""

import asyncio
import json
import time
from typing import Any

import pytest
import redis

from bench.prefill import prefill
from firstin_contracts import ProductKeys
from firstin_stack import unique_email, unique_sku
from firstin_stack.audit import audit_sale

from .conftest import StackFactory

pytestmark = pytest.mark.slow


def _shape(raw: bytes, order_id: str, email: str) -> str:
    """A queued message or record with what differs between two orders put in place."""
    return raw.decode().replace(order_id, "<id>").replace(email, "<email>")


def _envelope(raw: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    envelope = json.loads(raw)
    return envelope, json.loads(envelope["data"])


async def test_prefilled_orders_are_queued_and_decided_as_orders_placed_through_the_api(
    private_stack: StackFactory, client_of
) -> None:
    server, stack = private_stack()
    client = client_of(stack)
    stack.processor.stop()  # the line must hold still while it is compared
    sku = unique_sku("prefill")
    await client.create_product(sku, stock=3)
    keys = ProductKeys(sku)
    r = redis.Redis.from_url(server.url)
    try:
        first = (await client.place_order(unique_email(), sku)).json()
        (prefilled,) = prefill(r, sku, 1, email=lambda _: "prefilled@example.com")
        last = (await client.place_order(unique_email(), sku)).json()
        assert (first["position"], last["position"]) == (1, 3)
        door = await client.place_order(unique_email(), sku)
        assert door.status_code == 409, "the prefilled order counts in the line that covers the stock"

        emails = [json.loads(r.hget(keys.orders, o))["email"] for o in (first["order_id"], prefilled, last["order_id"])]
        queued = r.lrange(keys.queue, 0, -1)
        assert [_envelope(m)[1]["order_id"] for m in queued] == [first["order_id"], prefilled, last["order_id"]]
        api_message, ours = _envelope(queued[0]), _envelope(queued[1])
        assert api_message[0].keys() == ours[0].keys() and api_message[0]["headers"].keys() == ours[0]["headers"].keys()
        assert _shape(api_message[0]["data"].encode(), first["order_id"], emails[0]) == _shape(
            ours[0]["data"].encode(), prefilled, emails[1]
        ), "the same PlaceOrder body, byte for byte"

        records = [json.loads(r.hget(keys.orders, o)) for o in (first["order_id"], prefilled, last["order_id"])]
        assert records[0].keys() == records[1].keys() == records[2].keys()
        assert [(x["status"], x["position"]) for x in records] == [("pending", 1), ("pending", 2), ("pending", 3)]
        assert r.hmget(keys.product, ["last_position", "pending_qty"]) == [b"3", b"3"]

        stack.processor.start()
        stack.processor.wait_ready()
        deadline = time.monotonic() + 20
        while int(r.hget(keys.product, "decided") or 0) < 3:
            assert time.monotonic() < deadline, "not every order was decided"
            await asyncio.sleep(0.05)
        decided = [json.loads(r.hget(keys.orders, o)) for o in (first["order_id"], prefilled, last["order_id"])]
        assert [(x["status"], x["decision_seq"]) for x in decided] == [
            ("accepted", 1),
            ("accepted", 2),
            ("accepted", 3),
        ]
        assert decided[0].keys() == decided[1].keys() == decided[2].keys()
        assert r.llen(keys.dead_letters) == 0
        audit = audit_sale(server.url, sku, accepted_orders={first["order_id"]: emails[0], last["order_id"]: emails[2]})
        audit.assert_correct()
        assert (audit.accepted, audit.pending, audit.dead_letters) == (3, 0, 0)
    finally:
        r.close()
