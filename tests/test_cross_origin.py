"""Pages on other origins, as the api and the notifier (real processes) answer them: CORS preflights and headers on
the api, the socket's origin check on the notifier, both from FIRSTIN_CORS_ALLOWED_ORIGINS.

The session's stack lists the demo page under both its names; `http://localhost:<api port>` is a listed origin other
than the api's own address. tests/browser/test_other_origin.py drives the same from a real browser.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import aiohttp
import pytest
import socketio

from firstin_stack import FirstinClient, Stack, unique_email, unique_sku

UNLISTED = "https://unlisted.example"
PAGE_HEADERS = "authorization,content-type,idempotency-key"


@pytest.fixture
def listed(firstin_stack: Stack) -> str:
    origin = f"http://localhost:{urlsplit(firstin_stack.api_url).port}"
    assert origin in firstin_stack.config.page_origins
    return origin


@pytest.mark.parametrize(
    "method, path",
    [("POST", "/orders"), ("POST", "/buy"), ("POST", "/sessions"), ("GET", "/orders/x.1"), ("GET", "/products/x")],
)
async def test_a_listed_page_is_answered_its_preflight(
    firstin: FirstinClient, listed: str, method: str, path: str
) -> None:
    response = await firstin.http.options(
        path,
        headers={
            "Origin": listed,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": PAGE_HEADERS,
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == listed
    assert method in response.headers["access-control-allow-methods"].split(", ")
    allowed = {h.lower() for h in response.headers["access-control-allow-headers"].split(", ")}
    assert set(PAGE_HEADERS.split(",")) <= allowed, allowed
    assert "Origin" in response.headers["vary"]


async def test_an_unlisted_page_is_refused_its_preflight(firstin: FirstinClient) -> None:
    response = await firstin.http.options(
        "/orders",
        headers={
            "Origin": UNLISTED,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert response.status_code == 400 and "origin" in response.text
    assert "access-control-allow-origin" not in response.headers


async def test_a_listed_page_may_read_every_answer_of_the_order_path(firstin: FirstinClient, listed: str) -> None:
    """The answers a page acts on, errors included, with the headers it needs (where the order is, when to retry)."""
    sku = unique_sku("cors")
    await firstin.create_product(sku, stock=1)
    page = {"Origin": listed}
    json_body = {**page, "Content-Type": "application/json"}
    answers = {
        202: await firstin.http.post("/orders", json={"email": unique_email(), "sku": sku}, headers=page),
        404: await firstin.http.post("/orders", json={"email": unique_email(), "sku": unique_sku()}, headers=page),
        413: await firstin.http.post("/orders", content=b'{"email": "' + b"a" * 10_000 + b'"}', headers=json_body),
        415: await firstin.http.post("/buy", content=b'{"email": "a@example.com"}', headers=page),
        422: await firstin.http.post("/orders", json={"email": "not an email"}, headers=page),
    }
    order = answers[202].json()
    answers[200] = await firstin.http.get(f"/orders/{order['order_id']}", headers=page)
    for status, response in answers.items():
        assert response.status_code == status, (status, response.text)
        assert response.headers.get("access-control-allow-origin") == listed, (status, dict(response.headers))
        exposed = response.headers["access-control-expose-headers"].split(", ")
        assert {"Location", "Retry-After"} <= set(exposed), (status, exposed)
    assert "location" in answers[202].headers
    product = await firstin.http.get(f"/products/{sku}", headers=page)
    assert product.headers["access-control-allow-origin"] == listed


async def test_requests_without_an_origin_get_no_cors_headers(firstin: FirstinClient) -> None:
    """Servers and load generators send no Origin: their answers are as before, nothing added on the order path."""
    response = await firstin.place_order(unique_email(), unique_sku())
    assert response.status_code == 404
    assert not any(name.startswith("access-control-") for name in response.headers), dict(response.headers)
    assert "vary" not in response.headers


@asynccontextmanager
async def page_socket(notifier_url: str, origin: str, token: str) -> AsyncIterator[socketio.AsyncClient]:
    """A socket opened as a page of `origin` would open it. Its HTTP session is ours to close: engine.io's client
    leaves its own open when the handshake is refused."""
    async with aiohttp.ClientSession() as http:
        client = socketio.AsyncClient(reconnection=False, http_session=http)
        await client.connect(
            notifier_url, headers={"Origin": origin}, auth={"token": token}, transports=["websocket"], wait_timeout=10
        )
        try:
            yield client
        finally:
            await client.disconnect()


async def test_the_notifier_accepts_a_listed_page_and_names_the_setting_to_an_unlisted_one(
    firstin: FirstinClient, firstin_stack: Stack, listed: str
) -> None:
    token = await firstin.open_session(unique_email())
    async with page_socket(firstin_stack.notifier_url, listed, token) as accepted:
        assert accepted.connected

    unlisted = f"https://page-{uuid.uuid4().hex[:8]}.example"
    with pytest.raises(socketio.exceptions.ConnectionError):
        async with page_socket(firstin_stack.notifier_url, unlisted, token):
            pass
    line = await _log_line(firstin_stack, unlisted)
    assert '"level": "WARNING"' in line and "FIRSTIN_CORS_ALLOWED_ORIGINS" in line, line
    assert "is not an accepted origin" not in firstin_stack.notifier.tail_log(100_000)  # engine.io's own line: gone


async def _log_line(stack: Stack, needle: str, timeout: float = 5.0) -> str:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        lines = [line for line in stack.notifier.tail_log(100_000).splitlines() if needle in line]
        if lines:
            return lines[0]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no log line of the notifier mentions {needle} within {timeout} s")
        await asyncio.sleep(0.05)
