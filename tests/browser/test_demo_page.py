"""The demo page in a real browser: a buyer sees their place in line, then their outcome, live; never another's.

Two buyers, each in a browser context of their own (own cookies, own socket), buy the default product on the page
served at `/`. Screenshots of each step go to the test's tmp_path (printed, so a failing run shows where).
"""

import asyncio
import json
import os
import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Locator, Page, WebSocket, expect

from firstin_stack import FirstinClient, Stack, unique_email, unique_sku

UI_TIMEOUT_MS = 10_000
FINAL_TEXT = re.compile(r"^(Accepted|Rejected)")

# Installed before the page's own scripts: every text the status line shows, in order, so the test can tell
# what a buyer saw even when it changed faster than anyone polls it.
RECORD_STATUS_LINE = """
window.__statusTexts = [];
document.addEventListener("DOMContentLoaded", () => {
  const line = document.getElementById("status");
  new MutationObserver((records) => {
    for (const record of records) {
      for (const node of record.addedNodes) window.__statusTexts.push(node.textContent);
    }
  }).observe(line, { childList: true });
});
"""


def describe(order: dict[str, Any]) -> str:
    """The status line the page shows for a decided order, as app.js words it."""
    if order["status"] == "accepted":
        return f"Accepted: #{order['position']} got one!"
    assert order["status"] == "rejected", order
    return f"Rejected ({order['reason'].replace('_', ' ')}), #{order['position']} in line"


def pending(position: int) -> re.Pattern[str]:
    """The status line of an order waiting in line ("Pending, #7 in line", maybe followed by how many are ahead)."""
    return re.compile(rf"^Pending, #{position} in line(?!\d)")


def mentions_position(text: str, position: int) -> bool:
    return re.search(rf"#{position}(?!\d)", text) is not None


@dataclass
class Buyer:
    """One buyer's tab: the page, what its sockets received, and the order its Buy click placed."""

    name: str
    email: str
    page: Page
    shots: Path
    frames: list[str] = field(default_factory=list)
    order: dict[str, Any] = field(default_factory=dict)
    token: str = ""  # the page's buyer session, as its Buy request presented it

    @classmethod
    async def open(cls, browser: Browser, stack: Stack, name: str, shots: Path) -> "Buyer":
        context = await browser.new_context(viewport={"width": 800, "height": 420})
        context.set_default_timeout(UI_TIMEOUT_MS)
        await context.add_init_script(RECORD_STATUS_LINE)
        page = await context.new_page()
        buyer = cls(name, unique_email(name), page, shots)
        page.on("websocket", buyer._watch)
        await page.goto(f"{stack.api_url}/")
        await expect(page.locator("#stock")).to_have_text(re.compile(r"\d+ of \d+ left"), timeout=UI_TIMEOUT_MS)
        await page.evaluate("window.__sameDocument = true")  # a reload would drop it
        return buyer

    def _watch(self, socket: WebSocket) -> None:
        socket.on("framereceived", lambda payload: self.frames.append(str(payload)))

    @property
    def status(self) -> Locator:
        return self.page.get_by_role("status")

    async def buy(self) -> dict[str, Any]:
        """Type the email and click Buy, as a person would; returns the order from the page's 202."""
        await self.page.get_by_placeholder("you@example.com").fill(self.email)
        async with self.page.expect_response(
            lambda r: r.request.method == "POST" and urlsplit(r.url).path == "/buy"
        ) as response_info:
            await self.page.get_by_role("button", name="Buy").click()
        response = await response_info.value
        assert response.status == 202, f"{self.name}: POST /buy answered {response.status}: {await response.text()}"
        self.order = await response.json()
        self.token = (await response.request.all_headers())["authorization"].removeprefix("Bearer ")
        return self.order

    async def socket_connected(self, timeout: float = UI_TIMEOUT_MS / 1000) -> None:
        """Wait until the notifier has accepted the page's socket (the Socket.IO CONNECT packet, `40...`)."""
        for _ in range(int(timeout / 0.05)):
            if any(frame.startswith("40") for frame in self.frames):
                return
            await asyncio.sleep(0.05)
        raise AssertionError(
            f"{self.name}: the notifier did not accept the page's socket in {timeout} s: {self.frames}"
        )

    def order_events(self) -> list[dict[str, Any]]:
        """The `order` events the page's socket received (Socket.IO EVENT packets, `42["order", {...}]`)."""
        packets = [json.loads(frame[2:]) for frame in self.frames if frame.startswith("42")]
        return [packet[1] for packet in packets if packet[0] == "order"]

    async def heard_final(self, order_id: str, timeout: float = UI_TIMEOUT_MS / 1000) -> None:
        """Wait until the page's socket has received the order's final event."""
        for _ in range(int(timeout / 0.05)):
            if any(e["order_id"] == order_id and e["status"] != "pending" for e in self.order_events()):
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{self.name}: no final event of {order_id} in {timeout} s: {self.frames}")

    async def status_texts(self) -> list[str]:
        """What the status line showed, in order; a text shown again right away (the socket's pending event for the
        order repeats what the 202 said) counts once."""
        texts: list[str] = await self.page.evaluate("window.__statusTexts")
        return [text for i, text in enumerate(texts) if i == 0 or text != texts[i - 1]]

    async def same_document(self) -> bool:
        return bool(await self.page.evaluate("window.__sameDocument === true"))

    async def screenshot(self, step: str) -> Path:
        path = self.shots / f"{self.name}-{step}.png"
        await self.page.screenshot(path=path)
        return path


@contextmanager
def decisions_held(stack: Stack) -> Iterator[None]:
    """Freeze the processor (SIGSTOP to its process group) so that orders stay pending while the test looks at
    them: unfrozen, it often decides an order before the api has even answered the 202, which then already
    says "accepted" and the page never shows a place in line. Nothing else pauses: the api still queues and the
    notifier still connects sockets. The processor is always thawed, well within its 3 s lease."""
    os.killpg(stack.processor.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(stack.processor.pid, signal.SIGCONT)


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
