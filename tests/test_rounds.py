"""Sale rounds through real processes: a reset (PUT /admin/products/{sku}) starts a new round, closes the old one
for whatever still waits in it (round_closed, told to its buyers), and keeps the old round's orders listed and
exportable under its number."""

import asyncio
import os
import signal

import pytest

from firstin_stack import FirstinClient, unique_email, unique_sku
from firstin_stack.audit import audit_sale

from .conftest import StackFactory
from .sale import Sale, barrier, wait_until


async def test_a_reset_mid_line_closes_the_round_for_those_still_waiting(private_stack: StackFactory, client_of):
    server, stack = private_stack()
    client: FirstinClient = client_of(stack)
    sku = unique_sku("reset")
    assert (await client.create_product(sku, stock=10))["round"] == 1
    buyers = [unique_email() for _ in range(5)]
    tokens = {email: await client.open_session(email) for email in buyers}
    sockets = {email: await client.listen_for(tokens[email]) for email in buyers}

    early = [(await client.place_order(email, sku, token=tokens[email])).json() for email in buyers[:2]]
    await client.wait_until_decided([o["order_id"] for o in early])
    stack.processor.stop()  # the next three wait in line when the reset comes
    waiting = [
        (await client.place_order(email, sku, token=tokens[email], idempotency_key=f"key-{email}")).json()
        for email in buyers[2:]
    ]
    assert [o["position"] for o in early + waiting] == [1, 2, 3, 4, 5]

    reset = await client.create_product(sku, stock=2)
    assert (reset["round"], reset["stock_left"], reset["now_serving"], reset["queue_length"]) == (2, 2, 0, 3)
    second = [(await client.place_order(email, sku, token=tokens[email])).json() for email in buyers[:2]]
    assert [o["position"] for o in second] == [1, 2], "positions start from 1 in the new round"
    assert (await client.place_order(buyers[2], sku, token=tokens[buyers[2]])).status_code == 409, (
        "the new round's line covers its stock: the old round's orders in line do not count"
    )
    stack.processor.start()

    for order, email in zip(waiting, buyers[2:], strict=True):
        told = await sockets[email].wait_for_final(order["order_id"])
        assert (told["status"], told["reason"], told["position"]) == ("rejected", "round_closed", order["position"])
    decided = await client.wait_until_decided([o["order_id"] for o in early + waiting + second])
    assert [(o["round"], o["status"], o["reason"]) for o in decided] == [
        (1, "accepted", None),
        (1, "accepted", None),
        (1, "rejected", "round_closed"),
        (1, "rejected", "round_closed"),
        (1, "rejected", "round_closed"),
        (2, "accepted", None),
        (2, "accepted", None),
    ]
    product = await client.get_product(sku)
    assert (product["round"], product["stock_left"], product["sold_out"]) == (2, 0, True)
    replay = await client.place_order(buyers[2], sku, idempotency_key=f"key-{buyers[2]}")
    assert (replay.status_code, replay.json()["order_id"]) == (202, waiting[0]["order_id"]), "a key outlives its round"
    assert (await client.get_order(waiting[0]["order_id"]))["status"] == "rejected"
    (listed,) = [p for p in await client.admin_get("/admin/products") if p["sku"] == sku]
    assert (listed["round"], listed["accepted"], listed["rejected"], listed["last_position"]) == (2, 2, {}, 2)

    rounds = await client.admin_get(f"/admin/products/{sku}/rounds")
    assert [(r["round"], r["orders"], r["decided"], r["accepted"], r["rejected"]) for r in rounds] == [
        (1, 5, 5, 2, {"round_closed": 3}),
        (2, 2, 2, 2, {}),
    ]
    assert rounds[0]["closed_at"] is not None and rounds[1]["closed_at"] is None
    assert [o["order_id"] for o in await client.orders_of(sku, round=1)] == [o["order_id"] for o in early + waiting]
    winners = await client.orders_of(sku, round=1, status="accepted")
    assert [(o["order_id"], o["email"]) for o in winners] == [
        (o["order_id"], e) for o, e in zip(early, buyers[:2], strict=True)
    ]

    *lines, summary = await client.export_round(sku, 1)
    assert [(line["position"], line["decision_seq"]) for line in lines] == [(p, p) for p in range(1, 6)]
    assert summary == {
        "sku": sku,
        "round": 1,
        "audit": {
            "orders": 5,
            "accepted": 2,
            "accepted_quantity": 2,
            "stock_total": 10,
            "rejected": {"round_closed": 3},
            "pending": 0,
            "oversell": 0,
            "fifo_violations": 0,
            "duplicate_decisions": 0,
        },
    }
    sold = {o["order_id"]: e for o, e in zip(early + waiting + second, buyers + buyers[:2], strict=True)}
    # Sound: each socket's barrier event comes after any event the rounds could still send it.
    ignored = await barrier(client, [(e, tokens[e], [sockets[e]]) for e in buyers])
    for round_ in (1, 2, None):
        audit_sale(
            server.url, sku, accepted_orders=sold, sockets=sockets, ignore_orders=ignored, round=round_
        ).assert_correct()


async def test_pages_of_a_round_cover_each_of_its_orders_once(firstin: FirstinClient) -> None:
    sku = unique_sku("pages")
    await firstin.create_product(sku, stock=100, per_customer_limit=1)
    buyers = [unique_email() for _ in range(40)]
    # Each buyer orders twice: the first is accepted, the second over the per-customer limit is rejected.
    firsts = await asyncio.gather(*(firstin.place_order(email, sku) for email in buyers))
    seconds = await asyncio.gather(*(firstin.place_order(email, sku) for email in buyers))
    placed = [r.json()["order_id"] for r in firsts + seconds]
    await firstin.wait_until_decided(placed)

    every = await firstin.orders_of(sku, page_size=7)
    assert sorted(o["order_id"] for o in every) == sorted(placed), "every order, none twice"
    assert [o["position"] for o in every] == list(range(1, 81)), "in position order"
    accepted = await firstin.orders_of(sku, status="accepted", page_size=3)
    rejected = await firstin.orders_of(sku, status="rejected", page_size=1000)
    assert {o["order_id"] for o in accepted} == {r.json()["order_id"] for r in firsts}
    assert len(accepted) == 40 and {o["reason"] for o in rejected} == {"limit_exceeded"} and len(rejected) == 40

    admin = {"Authorization": f"Bearer {firstin.admin_token}"}
    path = f"/admin/products/{sku}/orders"
    assert (await firstin.http.get(path)).status_code == 401
    bad = await firstin.http.get(path, params={"cursor": "not-a-cursor"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "cursor"]
    first_page = (await firstin.http.get(path, params={"limit": 5}, headers=admin)).json()
    other_round = await firstin.http.get(path, params={"cursor": first_page["next_cursor"], "round": 2}, headers=admin)
    assert other_round.status_code == 422
    assert (await firstin.http.get(path, params={"round": 2}, headers=admin)).status_code == 404
    assert (await firstin.http.get(f"/admin/products/{sku}/rounds/2/export", headers=admin)).status_code == 404
    assert (await firstin.http.get(f"/admin/products/{unique_sku('no')}/rounds", headers=admin)).status_code == 404


@pytest.mark.slow
async def test_resets_racing_a_burst_keep_every_round_sold_right(private_stack: StackFactory, client_of) -> None:
    """Resets land while orders pour in and are decided (small batches, so between decisions); one lands while
    the processor is paused (SIGSTOP), so that round's line is certainly closed with orders in it. Every round
    keeps to its own stock and its own FIFO, and every buyer hears every outcome once."""
    server, stack = private_stack(FIRSTIN_DECIDE_BATCH_SIZE="3")
    client: FirstinClient = client_of(stack)
    sale = Sale(client, stack, unique_sku("race"))
    stocks = [30, 25, 20, 15]
    await client.create_product(sale.sku, stock=stocks[0])
    buyers = await sale.open_buyers(60)
    burst = asyncio.create_task(sale.burst(buyers, orders_each=3, concurrency=20))

    async def acknowledged(n: int) -> bool:
        return len(sale.acknowledged) >= n or burst.done()

    await wait_until(lambda: acknowledged(15), 30, "the first round under way")
    assert not burst.done(), "the burst outlasts the resets"
    os.kill(stack.processor.pid, signal.SIGSTOP)
    try:
        paused_at = len(sale.acknowledged)
        await wait_until(lambda: acknowledged(paused_at + 5), 30, "orders waiting in line")
        assert (await client.create_product(sale.sku, stock=stocks[1]))["queue_length"] > 0, "a reset mid-line"
    finally:
        os.kill(stack.processor.pid, signal.SIGCONT)
    for stock in stocks[2:]:
        target = len(sale.acknowledged) + 10
        await wait_until(lambda: acknowledged(target), 30, "more orders")  # noqa: B023 (awaited at once)
        await client.create_product(sale.sku, stock=stock)
    await burst
    await client.wait_until_decided(list(sale.acknowledged), timeout=60)
    await sale.wait_all_notified()
    await sale.barrier()  # Sound: no event of the sale can still be on its way to a socket after this

    sale.audit(server.url).assert_correct()
    rounds = await client.admin_get(f"/admin/products/{sale.sku}/rounds")
    assert [(r["round"], r["stock_total"], r["pending"]) for r in rounds] == [
        (n, stock, 0) for n, stock in enumerate(stocks, start=1)
    ]
    assert rounds[0]["rejected"].get("round_closed", 0) >= 1, "the paused round's line was closed"
    seen: set[str] = set()
    for r in rounds:
        audit = audit_sale(
            server.url,
            sale.sku,
            accepted_orders=sale.acknowledged,
            sockets=sale.sockets,
            ignore_orders=sale.barrier_orders,
            round=r["round"],
        )
        audit.assert_correct()
        *orders, summary = await client.export_round(sale.sku, r["round"])
        assert [o["position"] for o in orders] == list(range(1, r["orders"] + 1))
        assert {o["round"] for o in orders} <= {r["round"]}
        assert (summary["audit"]["oversell"], summary["audit"]["fifo_violations"], summary["audit"]["pending"]) == (
            0,
            0,
            0,
        )
        assert summary["audit"]["accepted_quantity"] <= r["stock_total"]
        seen.update(o["order_id"] for o in orders)
    assert seen == set(sale.acknowledged), "each order in exactly one round"
