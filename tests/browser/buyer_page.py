"""Helpers of the demo page's browser tests: one buyer's tab (`Buyer`), the page's wording, and a way to hold
decisions so that orders stay pending while a test looks at them."""

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

from playwright.async_api import Browser, Locator, Page, Request, WebSocket, expect

from firstin_stack import Stack, unique_email

UI_TIMEOUT_MS = 10_000
FINAL_TEXT = re.compile(r"^(Accepted|Rejected)")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}
STOCK_TEXT = re.compile(r"^\d+ of \d+ left")
PAUSED_TEXT = "Live updates are paused. This page checks for news by itself meanwhile."

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

REASONS = {"sold_out": "sold out", "round_closed": "the sale was restarted"}


def describe(order: dict[str, Any]) -> str:
    """The status line the page shows for a decided order, as app.js words it."""
    if order["status"] == "accepted":
        return f"Accepted: #{order['position']} got one!"
    assert order["status"] == "rejected", order
    reason = REASONS.get(order["reason"])
    return f"Rejected{f' ({reason})' if reason else ''}, #{order['position']} in line"


def pending(position: int) -> re.Pattern[str]:
    """The status line of an order waiting in line ("Pending, #7 in line", maybe followed by how many are ahead)."""
    return re.compile(rf"^Pending, #{position} in line(?!\d)")


def mentions_position(text: str, position: int) -> bool:
    return re.search(rf"#{position}(?!\d)", text) is not None


def path_of(request: Request) -> str:
    return urlsplit(request.url).path


@dataclass
class Buyer:
    """One buyer's tab: the page, what its sockets sent and received, the requests it made, and the order its Buy
    click placed."""

    name: str
    email: str
    page: Page
    shots: Path
    frames: list[str] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    order: dict[str, Any] = field(default_factory=dict)
    token: str = ""  # the page's buyer session, as its order request presented it
    url: str = ""

    @classmethod
    async def open(
        cls,
        browser: Browser,
        stack: Stack,
        name: str,
        shots: Path,
        *,
        sku: str | None = None,
        viewport: dict[str, int] | None = None,
    ) -> "Buyer":
        context = await browser.new_context(viewport=viewport or {"width": 800, "height": 420})
        context.set_default_timeout(UI_TIMEOUT_MS)
        await context.add_init_script(RECORD_STATUS_LINE)
        page = await context.new_page()
        buyer = cls(name, unique_email(name), page, shots)
        page.on("websocket", buyer._watch)
        page.on("request", lambda request: buyer.requests.append(request))
        buyer.url = f"{stack.api_url}/" + (f"?sku={sku}" if sku else "")
        await buyer.load()
        return buyer

    async def load(self) -> None:
        """Open (or open again) the page, and wait until it shows the stock."""
        await self.page.goto(self.url)
        await expect(self.page.locator("#stock")).to_have_text(STOCK_TEXT)
        await self.page.evaluate("window.__sameDocument = true")  # a reload would drop it

    def _watch(self, socket: WebSocket) -> None:
        socket.on("framereceived", lambda payload: self.frames.append(str(payload)))
        socket.on("framesent", lambda payload: self.sent.append(str(payload)))

    @property
    def status(self) -> Locator:
        return self.page.get_by_role("status")

    @property
    def buy_button(self) -> Locator:
        return self.page.get_by_role("button", name="Buy")

    async def buy(self) -> dict[str, Any]:
        """Type the email and click Buy, as a person would; returns the order from the page's 202."""
        await self.page.get_by_placeholder("you@example.com").fill(self.email)
        async with self.page.expect_response(
            lambda r: r.request.method == "POST" and urlsplit(r.url).path == "/orders"
        ) as response_info:
            await self.buy_button.click()
        response = await response_info.value
        assert response.status == 202, f"{self.name}: POST /orders answered {response.status}: {await response.text()}"
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

    async def requested(self, path_prefix: str, *, times: int, timeout: float = UI_TIMEOUT_MS / 1000) -> None:
        """Wait until the page has asked for a path under `path_prefix` `times` times."""
        for _ in range(int(timeout / 0.05)):
            if sum(path_of(r).startswith(path_prefix) for r in self.requests) >= times:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{self.name}: fewer than {times} requests for {path_prefix} in {timeout} s")

    def events(self, name: str) -> list[dict[str, Any]]:
        """The events of that name the page's sockets received (Socket.IO EVENT packets, `42["name", {...}]`)."""
        packets = [json.loads(frame[2:]) for frame in self.frames if frame.startswith("42")]
        return [packet[1] for packet in packets if packet[0] == name]

    def order_events(self) -> list[dict[str, Any]]:
        return self.events("order")

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

    async def fits_its_width(self) -> None:
        """Nothing sticks out sideways, and the Buy button is on screen without scrolling sideways."""
        overflow = await self.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{self.name}: the page is {overflow} px wider than the screen"
        box = await self.buy_button.bounding_box()
        width = self.page.viewport_size["width"] if self.page.viewport_size else 0
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, f"{self.name}: Buy at {box}"

    async def screenshot(self, step: str) -> Path:
        path = self.shots / f"{self.name}-{step}.png"
        await self.page.screenshot(path=path, full_page=True)
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
