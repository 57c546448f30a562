"""The demo page keeps the buyer's result, in a real browser, on a desktop screen and on a phone's (390 by 844):
a reload keeps it (read again from the server), a notifier that is down makes the page poll and say so calmly,
a double click buys once, and a visitor who has not bought sees the stock fall live and Buy close at sell-out.

Each test uses a product of its own (the page's `?sku=`). Screenshots go to the test's tmp_path (printed).
"""

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Route, expect

from firstin_stack import FirstinClient, Stack, unique_email, unique_sku

from ..conftest import StackFactory
from .buyer_page import PAUSED_TEXT, VIEWPORTS, Buyer, decisions_held, describe, path_of, pending

pytestmark = pytest.mark.slow
sizes = pytest.mark.parametrize("size", list(VIEWPORTS))


async def last_position(firstin: FirstinClient, sku: str) -> int:
    """How many orders the product's line has taken so far (each gets the next position)."""
    response = await firstin.http.get("/admin/products", headers={"Authorization": f"Bearer {firstin.admin_token}"})
    response.raise_for_status()
    (product,) = [p for p in response.json() if p["sku"] == sku]
    return int(product["last_position"])


async def new_product_page(
    browser: Browser, stack: Stack, firstin: FirstinClient, shots: Path, size: str, *, stock: int, name: str = ""
) -> tuple[str, Buyer]:
    """A product of the test's own, and a buyer's tab showing it on a screen of that size."""
    print(f"screenshots: {shots}")
    sku = unique_sku(name or size)
    await firstin.create_product(sku, stock=stock)
    return sku, await Buyer.open(
        browser, stack, f"{size}-{name}" if name else size, shots, sku=sku, viewport=VIEWPORTS[size]
    )


@sizes
async def test_a_reload_keeps_the_result_as_the_server_has_it_now(
    browser: Browser, firstin_stack: Stack, firstin: FirstinClient, tmp_path: Path, size: str
) -> None:
    _, buyer = await new_product_page(browser, firstin_stack, firstin, tmp_path, size, stock=3)
    await buyer.fits_its_width()

    with decisions_held(firstin_stack):
        order = await buyer.buy()
        await expect(buyer.status).to_have_text(pending(order["position"]))
        await buyer.page.reload()
        # Still pending after the reload: the page read the order again and shows the server's place in line.
        await expect(buyer.status).to_have_text(pending(order["position"]))
        await buyer.screenshot("1-pending-after-reload")
        await buyer.page.goto("about:blank")  # the buyer leaves the page while the order is decided
    (record,) = await firstin.wait_until_decided([order["order_id"]])
    assert record["status"] == "accepted", record

    buyer.requests.clear()
    await buyer.load()  # back in the same tab: what it kept is the token and the order's id, not its outcome
    await expect(buyer.status).to_have_text(describe(record))
    await expect(buyer.page.get_by_placeholder("you@example.com")).to_have_value(buyer.email)
    assert f"/orders/{order['order_id']}" in [path_of(r) for r in buyer.requests if r.method == "GET"]
    kept = json.loads(await buyer.page.evaluate("sessionStorage.getItem('firstin.buyer')"))
    assert kept == {"email": buyer.email, "token": buyer.token, "orders": [order["order_id"]], "attempt": None}
    # The socket reconnected with the session's token: its replay told the outcome too.
    await buyer.heard_final(order["order_id"])
    await buyer.page.reload()
    await expect(buyer.status).to_have_text(describe(record))
    await buyer.screenshot("2-accepted-after-reload")


async def test_the_page_says_why_an_order_was_turned_down_also_for_reasons_it_does_not_know(
    browser: Browser, firstin_stack: Stack, tmp_path: Path
) -> None:
    """The page words the reasons the server gives; a sale restarted under the order is "the sale was restarted",
    and a reason newer than the page is shown without words rather than not at all. The records come from a stand-in
    for GET /orders/{id}: the server gives only the reasons it has today."""
    sku = unique_sku("reasons")
    records = {
        f"{sku}.{n:032x}": {
            **{"order_id": f"{sku}.{n:032x}", "sku": sku, "status": "rejected", "reason": reason, "position": n},
            **{"quantity": 1, "created_at": 1, "decided_at": 2},
        }
        for n, reason in [(1, "sold_out"), (2, "round_closed"), (3, "reason_from_the_future")]
    }
    context = await browser.new_context(viewport=VIEWPORTS["phone"])
    stored = {"email": unique_email(), "token": None, "orders": list(records), "attempt": None}
    await context.add_init_script(f"sessionStorage.setItem('firstin.buyer', {json.dumps(json.dumps(stored))})")

    async def answer(route: Route) -> None:
        await route.fulfill(json=records[path_of(route.request).rsplit("/", 1)[1]])

    await context.route(re.compile(r".*/orders/[^/]+$"), answer)
    page = await context.new_page()
    await page.goto(f"{firstin_stack.api_url}/?sku={sku}")
    await expect(page.get_by_role("status")).to_have_text("Rejected, #3 in line")
    await expect(page.locator("#orders li")).to_have_text(
        ["Rejected (the sale was restarted), #2 in line", "Rejected (sold out), #1 in line"]
    )
    await page.screenshot(path=tmp_path / "reasons.png", full_page=True)
    await context.close()


async def test_with_the_notifier_down_the_page_polls_and_says_so_calmly(
    browser: Browser, private_stack: StackFactory, client_of: Any, tmp_path: Path
) -> None:
    print(f"screenshots: {tmp_path}")
    _, stack = private_stack()
    firstin: FirstinClient = client_of(stack)
    sku = unique_sku("fallback")
    await firstin.create_product(sku, stock=10)
    buyers = [
        await Buyer.open(browser, stack, size, tmp_path, sku=sku, viewport=viewport)
        for size, viewport in VIEWPORTS.items()
    ]
    first = {}
    for buyer in buyers:  # a first order, decided while everything runs
        first[buyer.name] = await buyer.buy()
        await expect(buyer.status).to_have_text(re.compile(r"^Accepted"))
    stack.processor.stop()
    second = {}
    for buyer in buyers:  # a second one, left in line
        second[buyer.name] = await buyer.buy()
        await expect(buyer.status).to_have_text(pending(second[buyer.name]["position"]))

    stack.notifier.stop()
    for buyer in buyers:
        await expect(buyer.page.locator("#live")).to_have_text(PAUSED_TEXT)
        color = await buyer.page.locator("#live").evaluate("node => getComputedStyle(node).color")
        assert color == "rgb(85, 85, 85)", f"{buyer.name}: the paused note is {color}, not the page's quiet grey"
        assert "unavailable" not in await buyer.page.locator("body").inner_text()
        await expect(buyer.status).to_have_text(pending(second[buyer.name]["position"]))
        await expect(buyer.page.locator("#orders li")).to_have_text(
            [f"Accepted: #{first[buyer.name]['position']} got one!"]
        )
        await buyer.screenshot("1-notifier-down")
        buyer.requests.clear()

    stack.processor.start()
    stack.processor.wait_ready()
    for buyer in buyers:  # with no socket, the page learns the decision by reading the order
        (record,) = await firstin.wait_until_decided([second[buyer.name]["order_id"]])
        # The page reads less and less often while the socket is down: at most 15 s apart.
        await expect(buyer.status).to_have_text(describe(record), timeout=20_000)
        assert f"/orders/{record['order_id']}" in [path_of(r) for r in buyer.requests]
        await expect(buyer.page.locator("#live")).to_have_text(PAUSED_TEXT)
        await buyer.screenshot("2-decided-while-down")

    stack.notifier.start()
    stack.notifier.wait_ready()
    for buyer in buyers:  # the socket is back (socket.io retries by itself), and so is the quiet
        await expect(buyer.page.locator("#live")).to_have_text("", timeout=20_000)
        assert await buyer.same_document()


@sizes
async def test_a_double_click_buys_once(
    browser: Browser, firstin_stack: Stack, firstin: FirstinClient, tmp_path: Path, size: str
) -> None:
    sku, buyer = await new_product_page(browser, firstin_stack, firstin, tmp_path, size, stock=5)
    await buyer.page.get_by_placeholder("you@example.com").fill(buyer.email)

    await buyer.buy_button.dblclick()
    await expect(buyer.status).to_have_text(re.compile(r"^Accepted: #1 got one!"))
    await buyer.page.get_by_placeholder("you@example.com").press("Enter")  # the form again: a new attempt, a new order
    await expect(buyer.status).to_have_text(re.compile(r"^Accepted: #2 got one!"))

    posts = [r for r in buyer.requests if r.method == "POST" and path_of(r) == "/orders"]
    keys = [await r.header_value("idempotency-key") for r in posts]
    assert len(posts) == 2 and all(keys) and keys[0] != keys[1], keys
    assert await last_position(firstin, sku) == 2
    await buyer.screenshot("bought-once-per-click")


@sizes
@pytest.mark.parametrize("lost_how", ["network error", "reload"])
async def test_an_attempt_keeps_its_idempotency_key_across_retries_and_buys_once(
    browser: Browser, firstin_stack: Stack, firstin: FirstinClient, tmp_path: Path, size: str, lost_how: str
) -> None:
    """The first request reaches the api and is queued, but its answer never reaches the page: the connection
    breaks (the page retries by itself), or the buyer reloads the page while waiting (the page sends the attempt
    again on load). Either way the page asks again with the same key and is answered with the same order."""
    sku, buyer = await new_product_page(browser, firstin_stack, firstin, tmp_path, size, stock=5)
    lost: list[int] = []
    queued, reloaded = asyncio.Event(), asyncio.Event()

    async def lose_the_first_answer(route: Route) -> None:
        if route.request.method != "POST" or lost:
            await route.continue_()
            return
        response = await route.fetch()
        lost.append(response.status)
        queued.set()
        if lost_how == "reload":
            await reloaded.wait()  # the request is the old page's: the reload cancelled it meanwhile
            await route.abort()
        else:
            await route.abort("connectionreset")

    await buyer.page.route(re.compile(r".*/orders$"), lose_the_first_answer)
    await buyer.page.get_by_placeholder("you@example.com").fill(buyer.email)
    await buyer.buy_button.click()
    if lost_how == "reload":
        await queued.wait()
        await buyer.page.reload()
        reloaded.set()

    await expect(buyer.status).to_have_text("Accepted: #1 got one!")
    assert lost == [202]
    posts = [r for r in buyer.requests if r.method == "POST" and path_of(r) == "/orders"]
    keys = {await r.header_value("idempotency-key") for r in posts}
    assert len(posts) == 2 and len(keys) == 1, f"{len(posts)} requests with keys {keys}"
    assert await last_position(firstin, sku) == 1, "the second request was answered with the order the first queued"


@sizes
async def test_a_visitor_sees_the_stock_fall_live_and_buy_close_at_sell_out(
    browser: Browser, firstin_stack: Stack, firstin: FirstinClient, tmp_path: Path, size: str
) -> None:
    sku, visitor = await new_product_page(browser, firstin_stack, firstin, tmp_path, size, stock=3, name="visitor")
    await expect(visitor.page.locator("#stock")).to_have_text("3 of 3 left")
    await expect(visitor.buy_button).to_be_enabled()
    await visitor.socket_connected()
    await visitor.requested("/products/", times=2)  # on load, and once the socket watches: the state to start from
    visitor.requests.clear()

    first = (await firstin.place_order(unique_email(), sku)).json()
    await firstin.wait_until_decided([first["order_id"]])
    await expect(visitor.page.locator("#stock")).to_have_text("2 of 3 left")
    await visitor.screenshot("1-one-sold")

    with decisions_held(firstin_stack):  # two more in line take all that is left: the door is closed
        for _ in range(2):
            assert (await firstin.place_order(unique_email(), sku)).status_code == 202
        latecomer = await Buyer.open(
            browser, firstin_stack, f"{size}-latecomer", tmp_path, sku=sku, viewport=VIEWPORTS[size]
        )
        await expect(latecomer.page.locator("#stock")).to_have_text("2 of 3 left · 2 in line")
        await expect(latecomer.page.locator("#next")).to_have_text(
            "The orders in line take all that is left. If some of them are turned down, Buy opens again."
        )
        await expect(latecomer.buy_button).to_be_disabled()
        await latecomer.screenshot("2-line-takes-all")

    for page in (visitor, latecomer):
        await expect(page.page.locator("#stock")).to_have_text("Sold out: all 3 are taken.")
        await expect(page.page.locator("#next")).to_have_text("No more will be sold unless the sale is restarted.")
        await expect(page.buy_button).to_be_disabled()
        await page.fits_its_width()
        await page.screenshot("3-sold-out")
    # Live: the visitor's page never read the product again; its socket, which has no token, told it.
    assert not [r for r in visitor.requests if path_of(r).startswith("/products/")]
    assert await visitor.same_document()
    connect = next(frame for frame in visitor.sent if frame.startswith("40"))
    assert json.loads(connect[2:]) == {"watch": sku}, connect
    assert visitor.order_events() == []
    assert [p["stock_left"] for p in visitor.events("progress")][-1] == 0
