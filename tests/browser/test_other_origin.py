"""A shop's own page on another origin, in a real browser: the README's HTML snippet, as written (only its api and
notifier addresses swapped for the test stack's), served by a plain HTTP server on another port of 127.0.0.1.

From an origin FIRSTIN_CORS_ALLOWED_ORIGINS lists, the page orders with `fetch`, opens its socket with the
socket.io-client the api serves, and hears its outcome. From an unlisted origin it meets what the README's
troubleshooting entries describe: `fetch` fails, the socket's `connect_error` says "websocket error", and the
notifier's log names the origin and the setting.
"""

import asyncio
import re
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from firstin_stack import FirstinClient, RedisServer, Stack, StackConfig, unique_email

README = (Path(__file__).parents[2] / "README.md").read_text()
TIMEOUT_S = 10.0


def readme_snippet(api_url: str, notifier_url: str) -> str:
    (snippet,) = re.findall(r"```html\n(.*?)```", README, flags=re.DOTALL)
    assert "http://127.0.0.1:8000" in snippet and "http://127.0.0.1:8001" in snippet, snippet
    return snippet.replace("http://127.0.0.1:8000", api_url).replace("http://127.0.0.1:8001", notifier_url)


@dataclass
class PageServer:
    """One page at `/`, served from its own port: an origin of its own."""

    server: ThreadingHTTPServer
    html: bytes = b""

    @property
    def origin(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    @classmethod
    def start(cls) -> "PageServer":
        page = cls(ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler))

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                found = self.path == "/"
                body = page.html if found else b"not found"
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8" if found else "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the test's output is for the test

        page.server.RequestHandlerClass = Handler
        threading.Thread(target=page.server.serve_forever, daemon=True).start()
        return page

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Site:
    stack: Stack
    listed: PageServer
    unlisted: PageServer


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A stack of the module's own, which lists one of two page servers' origins (bound first, so their ports are
    known before the stack starts)."""
    listed, unlisted = PageServer.start(), PageServer.start()
    redis = RedisServer().start()
    config = StackConfig(
        redis_url=redis.url, cors_allowed_origins=[listed.origin], log_dir=tmp_path_factory.mktemp("logs")
    )
    stack = Stack(config)
    try:
        stack.start()
        for page in (listed, unlisted):
            page.html = readme_snippet(stack.api_url, stack.notifier_url).encode()
        yield Site(stack, listed, unlisted)
    finally:
        stack.stop()
        redis.stop()
        listed.stop()
        unlisted.stop()


@pytest.fixture
async def client(site: Site) -> AsyncIterator[FirstinClient]:
    firstin = FirstinClient(site.stack.api_url, site.stack.notifier_url, site.stack.config.admin_token)
    try:
        yield firstin
    finally:
        await firstin.aclose()


async def until(found: Callable[[], Any], what: str, timeout: float = TIMEOUT_S) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while not (result := found()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        await asyncio.sleep(0.05)
    return result


async def open_page(browser: Browser) -> tuple[Page, list[str], list[str]]:
    """A tab, what its console printed and the errors its scripts left uncaught."""
    page = await browser.new_page()
    console: list[str] = []
    errors: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.on("pageerror", lambda error: errors.append(f"{error.name}: {error.message}"))
    return page, console, errors


@pytest.mark.slow
async def test_the_readme_page_on_a_listed_origin_orders_and_hears_its_outcome(
    browser: Browser, site: Site, client: FirstinClient
) -> None:
    await client.create_product("default", stock=5)
    page, console, errors = await open_page(browser)
    async with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith("/orders"), timeout=TIMEOUT_S * 1000
    ) as answered:
        await page.goto(f"{site.listed.origin}/")
    response = await answered.value
    assert response.status == 202, await response.text()
    assert response.headers["access-control-allow-origin"] == site.listed.origin
    order = await response.json()

    # The snippet logs `status reason` for each event of its order: pending, then the decision.
    await until(lambda: "accepted null" in console, f"the page's outcome (console: {console}, errors: {errors})")
    assert (await client.get_order(order["order_id"]))["status"] == "accepted"
    assert not errors, errors


@pytest.mark.slow
async def test_the_same_page_on_an_unlisted_origin_is_refused_as_the_readme_says(
    browser: Browser, site: Site, client: FirstinClient
) -> None:
    await client.create_product("default", stock=5)
    page, console, errors = await open_page(browser)
    await page.goto(f"{site.unlisted.origin}/")
    # The api refused the preflight: the snippet's fetch rejects, and its order never reaches the api.
    await until(lambda: "TypeError: Failed to fetch" in errors, f"a failed fetch (errors: {errors})")
    product = await client.get_product("default")
    assert (product["stock_left"], product["queue_length"]) == (5, 0), product

    # The socket, opened from the same page with a valid token, is refused by the notifier.
    token = await client.open_session(unique_email())
    refusal = await page.evaluate(
        """([url, token]) => new Promise((resolve) => {
             const socket = io(url, {auth: {token}, transports: ["websocket"], reconnection: false});
             socket.on("connect", () => resolve("connected"));
             socket.on("connect_error", (err) => resolve(err.message));
           })""",
        [site.stack.notifier_url, token],
    )
    assert refusal == "websocket error"

    def warning() -> str | None:
        log = site.stack.notifier.tail_log(100_000).splitlines()
        return next((line for line in log if site.unlisted.origin in line), None)

    line = await until(warning, "the notifier's WARNING about the origin")
    assert '"level": "WARNING"' in line and "FIRSTIN_CORS_ALLOWED_ORIGINS" in line, line
    # What the browser's console shows, as the README quotes it.
    assert any("has been blocked by CORS policy" in message for message in console), console
    assert any(
        message.startswith("WebSocket connection to 'ws://") and "Unexpected response code: 403" in message
        for message in console
    ), console
