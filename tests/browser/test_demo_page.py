"""The demo page in a real browser: a buyer sees their place in line, then their outcome, live; never another's.

Two buyers, each in a browser context of their own (own cookies, own socket), buy the default product on the page
served at `/`. Screenshots of each step go to the test's tmp_path (printed, so a failing run shows where).
"""

import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from firstin_stack import FirstinClient, Stack, unique_sku

from .buyer_page import FINAL_TEXT, Buyer, decisions_held, describe, mentions_position, pending


@pytest.mark.slow
async def test_buyers_see_their_own_outcome_live_and_nobody_elses(
    browser: Browser, firstin_stack: Stack, firstin: FirstinClient, tmp_path: Path
) -> None:
    print(f"screenshots: {tmp_path}")
    # Other tests buy the default product too: a fresh round of stock right before use.
    await firstin.create_product("default", stock=5)
    a = await Buyer.open(browser, firstin_stack, "a", tmp_path)
    b = await Buyer.open(browser, firstin_stack, "b", tmp_path)

    with decisions_held(firstin_stack):
        # Each buyer types an email, clicks Buy and sees their place in line; their page connects its socket.
        for buyer in (a, b):
            order = await buyer.buy()
            assert (order["status"], order["sku"]) == ("pending", "default"), order
            await expect(buyer.status).to_have_text(pending(order["position"]))
            await buyer.socket_connected()
        assert a.order["order_id"] != b.order["order_id"]
        for buyer in (a, b):
            await expect(buyer.status).to_have_text(re.compile(r"^Pending"))
            await buyer.screenshot("1-pending")

    # Thawed: both orders are decided at once, and each outcome appears live on its own page, no reload.
    for buyer in (a, b):
        await expect(buyer.status).to_have_text(FINAL_TEXT)
    # A barrier: an order of another product in each page's session (the page shows only its own order). Sound: the
    # notifier relays decisions in the order they were published, so a stray event of the other buyer's order
    # would reach the page's socket before this one's.
    barrier_sku = unique_sku("barrier")
    await firstin.create_product(barrier_sku, stock=2)
    for buyer in (a, b):
        response = await firstin.place_order(buyer.email, barrier_sku, token=buyer.token)
        assert response.status_code == 202, response.text
        await buyer.heard_final(response.json()["order_id"])
    records = {buyer.name: await firstin.get_order(buyer.order["order_id"]) for buyer in (a, b)}
    for buyer in (a, b):
        await expect(buyer.status).to_have_text(describe(records[buyer.name]))
        await buyer.screenshot("2-final")

    for buyer, other_buyer in ((a, b), (b, a)):
        own, other = records[buyer.name], records[other_buyer.name]
        texts = await buyer.status_texts()
        assert await buyer.same_document(), f"{buyer.name}: the page reloaded"
        assert texts[0] == "Sending…" and texts[-1] == describe(own), f"{buyer.name} showed {texts}"
        assert any(pending(own["position"]).match(t) for t in texts), f"{buyer.name} never showed pending: {texts}"
        assert all(mentions_position(t, own["position"]) for t in texts[1:]), f"{buyer.name} showed {texts}"
        assert not any(mentions_position(t, other["position"]) for t in texts), f"{buyer.name} showed {texts}"
        # Below the page's own filtering: its socket never even received the other buyer's order.
        received = "\n".join(buyer.frames)
        assert own["order_id"] in received, f"{buyer.name}'s socket got no event of its own order: {buyer.frames}"
        assert other["order_id"] not in received, f"{buyer.name}'s socket got the other buyer's order"
        assert other_buyer.email not in received, f"{buyer.name}'s socket got the other buyer's email"
