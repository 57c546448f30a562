"""The admin console in a real browser, at a desktop size and on a phone (390 by 844): it asks for the token, follows
the sale live, creates and resets a product, lists the winners of each round and exports a round, shows dead
letters, the door's refusals and the services' health; it tells a wrong token from an api that is down; and the
admin token never goes into a URL."""

import asyncio
import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import redis.asyncio as aioredis
from playwright.async_api import Browser, FloatRect, Page, expect

from firstin_contracts import ProductKeys
from firstin_stack import FirstinClient, RedisServer, Stack, unique_email, unique_sku

UI_TIMEOUT_MS = 10_000
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


async def _open(browser: Browser, api_url: str, token: str, viewport: dict[str, int]) -> tuple[Page, list[str]]:
    """The console logged in, and every URL the page requested (the token must be in none of them)."""
    context = await browser.new_context(viewport=viewport, accept_downloads=True)
    page = await context.new_page()
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    await page.goto(f"{api_url}/admin")
    await page.fill("#token", token)
    await page.click("#login button[type=submit]")
    await expect(page.locator("#state")).to_have_text("Live.", timeout=UI_TIMEOUT_MS)
    return page, urls


async def _start_round(page: Page, sku: str, stock: int) -> None:
    await page.fill("#cfg-sku", sku)
    await page.fill("#cfg-stock", str(stock))
    await page.click("#configure button[type=submit]")


async def _page_width(page: Page) -> int:
    width: int = await page.evaluate("document.documentElement.scrollWidth")
    return width


def _cell(page: Page, sku: str, column: str):
    return page.locator(f'tr[data-sku="{sku}"] td[data-col="{column}"]')


async def test_the_console_runs_a_drop_from_first_round_to_export(
    browser: Browser, firstin: FirstinClient, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    page, urls = await _open(browser, firstin.api_url, firstin.admin_token, DESKTOP)
    sku = unique_sku("console")
    await _start_round(page, sku, stock=2)
    await expect(page.locator("#configure-result")).to_have_text(f"Round 1 of {sku} started: 2 in stock.")
    await expect(_cell(page, sku, "stock_left")).to_have_text("2", timeout=UI_TIMEOUT_MS)
    await expect(page.locator("#product-title")).to_have_text(f"Product {sku}")

    buyers = [unique_email() for _ in range(3)]
    answers = [await firstin.place_order(email, sku) for email in buyers]
    assert [a.status_code for a in answers] == [202, 202, 409]
    await expect(_cell(page, sku, "stock_left")).to_have_text("0", timeout=UI_TIMEOUT_MS)
    await expect(_cell(page, sku, "sold_out")).to_have_text("yes", timeout=UI_TIMEOUT_MS)
    await expect(_cell(page, sku, "accepted")).to_have_text("2", timeout=UI_TIMEOUT_MS)
    await expect(page.locator("#winners li")).to_have_text([f"#1 {buyers[0]} (1)", f"#2 {buyers[1]} (1)"])
    await expect(page.locator("#door-409")).to_have_text(re.compile(r"^[1-9]\d*$"), timeout=UI_TIMEOUT_MS)
    await expect(page.locator("#redis .value")).to_have_text(re.compile(r"^ok · "), timeout=UI_TIMEOUT_MS)
    await expect(page.locator("#processors li").first).to_have_text(re.compile(r"decides \d+ product"))
    await expect(page.locator("#notifiers li").first).to_have_text(re.compile(r"\d+ sockets connected"))
    await expect(_cell(page, sku, "decided_by")).not_to_have_text("none", timeout=UI_TIMEOUT_MS)

    await redis_client.rpush(ProductKeys(sku).queue, b"not an order")
    await expect(page.locator("#dead-letters li").first).to_have_text(
        re.compile(r"^undecodable · .* not an order$"), timeout=UI_TIMEOUT_MS
    )
    await expect(_cell(page, sku, "dead_letters")).to_have_text("1")

    await _start_round(page, sku, stock=1)
    await expect(page.locator("#configure-result")).to_have_text(f"Round 2 of {sku} started: 1 in stock.")
    await expect(_cell(page, sku, "round")).to_have_text("2", timeout=UI_TIMEOUT_MS)
    await expect(page.locator("#winners-title")).to_have_text("Winners of round 2")
    closed = page.locator('#rounds li[data-round="1"]')
    await expect(closed).to_contain_text("Round 1 (closed): 0 of 2 left · 2 orders · 2 accepted")
    await closed.get_by_role("button", name="Winners").click()
    await expect(page.locator("#winners li")).to_have_count(2)
    async with page.expect_download() as download_info:
        await closed.get_by_role("button", name="Export").click()
    download = await download_info.value
    assert download.suggested_filename == f"{sku}-round-1.jsonl"
    text = await asyncio.to_thread(Path(await download.path()).read_text)
    lines = [json.loads(line) for line in text.splitlines()]
    assert [line["email"] for line in lines[:-1]] == buyers[:2]
    assert lines[-1]["audit"] | {"oversell": 0, "fifo_violations": 0, "accepted": 2} == lines[-1]["audit"]

    assert await _page_width(page) <= DESKTOP["width"]
    await page.screenshot(path=str(tmp_path / "admin-desktop.png"), full_page=True)
    assert not [url for url in urls if firstin.admin_token in url], "the admin token never goes into a URL"
    await page.context.close()


async def _box(page: Page, selector: str) -> FloatRect:
    """The element's box. The live table is redrawn as the stream updates it, so a row can be between two drawings
    (detached, no box) when asked: ask again until the deadline."""
    deadline = time.monotonic() + UI_TIMEOUT_MS / 1000
    while (box := await page.locator(selector).first.bounding_box()) is None:
        assert time.monotonic() < deadline, f"{selector} has no box"
        await asyncio.sleep(0.05)
    return box


async def test_the_console_fits_a_phone(browser: Browser, firstin: FirstinClient, tmp_path: Path) -> None:
    page, _ = await _open(browser, firstin.api_url, firstin.admin_token, PHONE)
    sku = unique_sku("phone")
    await _start_round(page, sku, stock=3)
    await expect(_cell(page, sku, "stock_left")).to_have_text("3", timeout=UI_TIMEOUT_MS)
    email = unique_email()
    await firstin.place_order(email, sku)
    await expect(page.locator("#winners li")).to_have_text([f"#1 {email} (1)"], timeout=UI_TIMEOUT_MS)
    await expect(page.locator("#redis .value")).to_have_text(re.compile(r"^ok · "), timeout=UI_TIMEOUT_MS)

    assert await _page_width(page) <= PHONE["width"], "nothing is wider than the screen"
    for selector in ("#login", "#configure", f'tr[data-sku="{sku}"]', "#rounds li", "#winners li", "#processors"):
        box = await _box(page, selector)
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], selector
    await expect(_cell(page, sku, "stock_left")).to_be_visible()
    await page.screenshot(path=str(tmp_path / "admin-phone.png"), full_page=True)
    await page.context.close()


async def test_the_console_tells_a_wrong_token_from_an_api_that_is_down(
    browser: Browser, private_stack: Callable[..., tuple[RedisServer, Stack]]
) -> None:
    _, stack = private_stack()
    context = await browser.new_context(viewport=PHONE)
    page = await context.new_page()
    await page.goto(f"{stack.api_url}/admin")
    await page.fill("#token", "not-the-admin-token")
    await page.click("#login button[type=submit]")
    state = page.locator("#state")
    await expect(state).to_have_text(re.compile(r"^Wrong admin token"), timeout=UI_TIMEOUT_MS)
    await expect(state).to_have_attribute("data-state", "unauthorized")

    await page.fill("#token", stack.config.admin_token)
    await page.click("#login button[type=submit]")
    await expect(state).to_have_text("Live.", timeout=UI_TIMEOUT_MS)
    stack.api.stop()
    await expect(state).to_have_attribute("data-state", "unreachable", timeout=UI_TIMEOUT_MS)
    await expect(state).to_have_text(re.compile(r"(unreachable|restarting)"))
    stack.api.start()
    stack.api.wait_ready()
    await expect(state).to_have_text("Live.", timeout=UI_TIMEOUT_MS)
    await context.close()
