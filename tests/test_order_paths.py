"""POST /orders and POST /buy are one handler: the same request answers the same way through either path, whatever
the case (queued, invalid, refused at the door, not JSON, too large, rate limited, Redis away), and every valid order
request for a product, including a sold-out one answered from the door's memory, is counted in
firstin_api_orders_received_total."""

import asyncio
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from firstin_stack import FirstinClient, Stack, unique_email

from .conftest import StackFactory

pytestmark = pytest.mark.slow

# Changes from one request to the next, or with the body's length.
VARYING_HEADERS = {"date", "content-length", "location", "retry-after"}


def _shape(response: httpx.Response) -> tuple[Any, ...]:
    body = response.json()
    if response.status_code == 202:
        body = {name: type(value).__name__ for name, value in body.items()} | {
            "status": body["status"],
            "sku": body["sku"],
            "quantity": body["quantity"],
        }
    headers = {name: value for name, value in response.headers.items() if name not in VARYING_HEADERS}
    return (
        response.status_code,
        body,
        headers,
        response.headers.get("location", "/orders/").startswith("/orders/"),
        response.headers.get("retry-after", "1").isdigit(),
    )


async def _both(http: httpx.AsyncClient, body: Callable[[], bytes], **headers: str) -> tuple[httpx.Response, ...]:
    """The same request through each path; `body` makes it (a fresh email each time, or a fixed one)."""
    headers.setdefault("Content-Type", "application/json")
    return tuple([await http.post(path, content=body(), headers=headers) for path in ("/orders", "/buy")])


def _fresh() -> bytes:
    return f'{{"email": "{unique_email()}"}}'.encode()


def _fixed(content: bytes) -> Callable[[], bytes]:
    return lambda: content


async def _received(http: httpx.AsyncClient) -> float:
    metrics = (await http.get("/metrics/")).text
    found = re.search(r'^firstin_api_orders_received_total\{sku="default"\} (\S+)$', metrics, re.M)
    return float(found.group(1)) if found else 0.0


async def test_orders_and_buy_answer_alike_and_count_every_order_request(
    private_stack: StackFactory, client_of: Callable[[Stack], FirstinClient]
) -> None:
    server, stack = private_stack(FIRSTIN_RATE_LIMIT_PER_EMAIL="3", FIRSTIN_REDIS_TIMEOUT_SECONDS="0.5")
    firstin = client_of(stack)
    http = firstin.http
    await firstin.create_product("default", stock=1000)  # /buy orders the default product
    answered: list[httpx.Response] = []

    async def alike(body: Callable[[], bytes], status: int, **headers: str) -> tuple[httpx.Response, ...]:
        both = await _both(http, body, **headers)
        assert [r.status_code for r in both] == [status, status], [r.text for r in both]
        assert _shape(both[0]) == _shape(both[1])
        answered.extend(both)
        return both

    queued = await alike(_fresh, 202)
    assert all(r.json()["token"] and r.json()["position"] >= 1 for r in queued)
    keyed = [_fresh(), _fresh()]  # a buyer per path: a key is the buyer's, whichever path it comes through
    first = await alike(iter(keyed).__next__, 202, **{"Idempotency-Key": "checkout-1"})
    replays = await _both(http, iter(keyed).__next__, **{"Idempotency-Key": "checkout-1"})
    assert [r.json()["order_id"] for r in replays] == [r.json()["order_id"] for r in first], "nothing new queued"
    assert [r.json()["token"] for r in replays] == [None, None], "a replay without the session's token"
    answered.extend(replays)

    for invalid in (b"", b"{}", b'{"email": "nope"}', b'{"email": "a@example.com", "x": 1}', b"{not json", b"[]"):
        await alike(_fixed(invalid), 422)
    await alike(_fresh, 422, **{"Idempotency-Key": ""})
    await alike(_fixed(b'{"email": "\xff"}'), 400)
    await alike(_fresh, 415, **{"Content-Type": "text/plain"})
    await alike(_fixed(b'{"email": "a@example.com", "pad": "' + b"x" * 5000 + b'"}'), 413)
    buyer = _fixed(f'{{"email": "{unique_email()}"}}'.encode())
    answered += await _both(http, buyer)
    answered.append(await http.post("/orders", content=buyer(), headers={"Content-Type": "application/json"}))
    assert [r.status_code for r in answered[-3:]] == [202] * 3, "a limit of 3 a minute per buyer, across both paths"
    await alike(buyer, 429)

    await firstin.create_product("default", stock=0)
    await asyncio.sleep(0.3)  # past the door's memory (FIRSTIN_DOOR_CACHE_SECONDS): it is known closed now
    for _ in range(3):
        sold_out = await alike(_fresh, 409)  # answered from the door's memory
    assert sold_out[0].json() == {"status": "rejected", "reason": "sold_out"}
    await alike(_fresh, 409, **{"Idempotency-Key": "checkout-2"})  # a key goes past the memory, to the line

    counted = [r for r in answered if r.status_code in (202, 409)]
    assert await _received(http) == len(counted), "every queued or sold-out request, through either path"

    server.stop()
    # With a key, past the door's memory (which may still say "sold out" for a moment): to Redis, which is away.
    down = await alike(_fresh, 503, **{"Idempotency-Key": "checkout-3"})
    assert down[0].json() == {"detail": "order store unavailable, retry shortly"}
    assert (await http.get(f"/orders/{queued[0].json()['order_id']}")).json() == down[0].json(), "as other routes"
