"""The api's HTTP contract: bad input gets a clear error naming the field and changes nothing."""

import asyncio
import json

import pytest
import redis.asyncio as aioredis

from firstin_contracts import ProductKeys
from firstin_stack import FirstinClient, unique_email, unique_sku


async def queue_length(firstin: FirstinClient, sku: str) -> int:
    product = await firstin.get_product(sku)
    return int(product["queue_length"]) + int(product["now_serving"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, ["body", "email"]),
        ({"email": "not-an-email"}, ["body", "email"]),
        ({"email": "a@example.com", "quantity": 0}, ["body", "quantity"]),
        ({"email": "a@example.com", "quantity": -3}, ["body", "quantity"]),
        ({"email": "a@example.com", "quantity": "two"}, ["body", "quantity"]),
        ({"email": "a@example.com", "sku": "../../etc"}, ["body", "sku"]),
        ({"email": "a@example.com", "unexpected": 1}, ["body", "unexpected"]),
        ({"email": ["a@example.com"]}, ["body", "email"]),
    ],
)
async def test_invalid_orders_get_422_naming_the_field(
    firstin: FirstinClient, body: dict[str, object], field: list[str]
) -> None:
    response = await firstin.http.post("/orders", json=body)
    assert response.status_code == 422
    assert field in [error["loc"] for error in response.json()["detail"]]


@pytest.mark.parametrize("content", [b"", b"{not json", b"[]", b"null"])
async def test_unparseable_bodies_get_422_not_500(firstin: FirstinClient, content: bytes) -> None:
    response = await firstin.http.post("/orders", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 422


async def test_missing_email_on_buy_answers_at_once(firstin: FirstinClient) -> None:
    # The tutorial hung here; this must answer well inside the client's timeout.
    response = await asyncio.wait_for(firstin.http.post("/buy", json={}), timeout=2)
    assert response.status_code == 422
    assert ["body", "email"] in [e["loc"] for e in response.json()["detail"]]


async def test_oversized_body_gets_413(firstin: FirstinClient) -> None:
    response = await firstin.http.post("/orders", json={"email": "a@example.com", "pad": "x" * 10_000})
    assert response.status_code == 413


async def test_unknown_sku_gets_404_and_queues_nothing(firstin: FirstinClient) -> None:
    response = await firstin.place_order(unique_email(), unique_sku("nope"))
    assert response.status_code == 404
    assert (await firstin.http.get(f"/products/{unique_sku('nope')}")).status_code == 404
    assert (await firstin.http.get("/orders/nope.0123456789abcdef0123456789abcdef")).status_code == 404
    assert (await firstin.http.get("/orders/garbage")).status_code == 404


async def test_sold_out_product_gets_409_and_queues_nothing(firstin: FirstinClient) -> None:
    sku = unique_sku("zero")
    await firstin.create_product(sku, stock=0)
    response = await firstin.place_order(unique_email(), sku)
    assert response.status_code == 409
    assert response.json() == {"status": "rejected", "reason": "sold_out"}
    assert await queue_length(firstin, sku) == 0


async def test_idempotency_key_replay_returns_the_same_order(firstin: FirstinClient) -> None:
    sku = unique_sku("idem")
    await firstin.create_product(sku, stock=10)
    email = unique_email()
    first, *replays = await asyncio.gather(
        *(firstin.place_order(email, sku, idempotency_key="checkout-42") for _ in range(5))
    )
    assert {r.status_code for r in [first, *replays]} == {202}
    assert {r.json()["order_id"] for r in replays} == {first.json()["order_id"]}
    assert {r.json()["position"] for r in replays} == {first.json()["position"]}
    await firstin.wait_until_decided([first.json()["order_id"]])
    assert (await firstin.get_product(sku))["stock_left"] == 9, "one order, decided once"

    again = await firstin.place_order(email, sku, idempotency_key="checkout-42")
    assert again.json()["order_id"] == first.json()["order_id"]
    assert (await firstin.get_product(sku))["now_serving"] == 1

    reused = await firstin.place_order(email, sku, quantity=2, idempotency_key="checkout-42")
    assert reused.status_code == 422
    assert ["header", "Idempotency-Key"] in [e["loc"] for e in reused.json()["detail"]]


async def test_admin_calls_need_the_admin_token(firstin: FirstinClient) -> None:
    sku = unique_sku("admin")
    no_token = await firstin.http.put(f"/admin/products/{sku}", json={"stock": 5})
    wrong = await firstin.http.put(
        f"/admin/products/{sku}", json={"stock": 5}, headers={"Authorization": "Bearer wrong"}
    )
    assert (no_token.status_code, wrong.status_code) == (401, 401)
    assert (await firstin.http.get(f"/products/{sku}")).status_code == 404

    bad = await firstin.http.put(
        f"/admin/products/{sku}", json={"stock": -1}, headers={"Authorization": f"Bearer {firstin.admin_token}"}
    )
    assert bad.status_code == 422


async def test_health_docs_and_demo_page_are_served(firstin: FirstinClient) -> None:
    assert (await firstin.http.get("/livez")).status_code == 200
    assert (await firstin.http.get("/readyz")).status_code == 200
    assert "/orders" in (await firstin.http.get("/openapi.json")).json()["paths"]
    page = await firstin.http.get("/")
    assert page.status_code == 200 and "/static/socket.io.min.js" in page.text
    assert (await firstin.http.get("/static/socket.io.min.js")).status_code == 200
    assert (await firstin.http.get("/config")).json()["notifier_url"] == firstin.notifier_url
    sku = unique_sku("metrics")
    await firstin.create_product(sku, stock=1)
    assert (await firstin.place_order(unique_email(), sku)).status_code == 202
    metrics = await firstin.http.get("/metrics/")
    assert "firstin_api_orders_received_total" in metrics.text
    assert "firstin_api_order_group_size_count" in metrics.text


async def test_admin_overview_needs_the_token_and_lists_products(firstin: FirstinClient) -> None:
    sku = unique_sku("overview")
    await firstin.create_product(sku, stock=4)
    assert (await firstin.http.get("/admin/products")).status_code == 401
    assert (await firstin.http.get("/admin/stream", params={"ticket": "wrong"})).status_code == 401
    assert (await firstin.http.get("/admin/stream", params={"token": firstin.admin_token})).status_code in (401, 422), (
        "the admin token itself does not open the stream: it never goes into a URL"
    )
    assert (await firstin.http.post("/admin/stream-tickets")).status_code == 401
    listed = await firstin.http.get("/admin/products", headers={"Authorization": f"Bearer {firstin.admin_token}"})
    (row,) = [p for p in listed.json() if p["sku"] == sku]
    assert (row["stock_left"], row["decided"], row["queue_length"]) == (4, 0, 0)

    issued = await firstin.http.post(
        "/admin/stream-tickets", headers={"Authorization": f"Bearer {firstin.admin_token}"}
    )
    assert issued.status_code == 200 and issued.json()["expires_in"] <= 60
    ticket = issued.json()["ticket"]
    assert firstin.admin_token not in ticket
    async with firstin.http.stream("GET", "/admin/stream", params={"ticket": ticket}) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.aiter_lines()
        assert await anext(lines) == "event: overview"
        data = (await anext(lines)).removeprefix("data: ")
    assert sku in {p["sku"] for p in json.loads(data)}


async def test_the_sold_out_fast_path_answers_like_the_full_path(firstin: FirstinClient) -> None:
    sku = unique_sku("fastdoor")
    await firstin.create_product(sku, stock=1)
    email = unique_email()
    first = await firstin.place_order(email, sku, idempotency_key="only-once")
    await firstin.wait_until_decided([first.json()["order_id"]])

    assert (await firstin.place_order(unique_email(), sku)).status_code == 409
    invalid = await firstin.http.post("/orders", json={"email": "nope", "sku": sku})
    assert invalid.status_code == 422, "validation still comes first"
    replay = await firstin.place_order(email, sku, idempotency_key="only-once")
    assert (replay.status_code, replay.json()["order_id"]) == (202, first.json()["order_id"])
    assert (await firstin.place_order(unique_email(), unique_sku("nope"))).status_code == 404

    await firstin.create_product(sku, stock=1)  # restocked: the door reopens within the cache's 0.1 s
    deadline = asyncio.get_running_loop().time() + 2
    while (status := (await firstin.place_order(unique_email(), sku)).status_code) == 409:
        assert asyncio.get_running_loop().time() < deadline, "the door stayed closed after the restock"
    assert status == 202


async def test_unknown_skus_leave_no_per_sku_state_behind(firstin: FirstinClient) -> None:
    """Requests for made-up skus must not add a metric label (or anything else) per sku."""
    made_up = [unique_sku("madeup") for _ in range(200)]
    answers = await asyncio.gather(*(firstin.place_order(unique_email(), sku) for sku in made_up))
    assert {a.status_code for a in answers} == {404}
    metrics = (await firstin.http.get("/metrics/")).text
    assert not [sku for sku in made_up if sku in metrics], "no label for a product that does not exist"


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None]
)
@pytest.mark.parametrize(("method", "path"), [("POST", "/orders"), ("POST", "/buy"), ("POST", "/sessions")])
async def test_bodies_that_are_not_declared_json_get_415_and_queue_nothing(
    firstin: FirstinClient, content_type: str | None, method: str, path: str
) -> None:
    """A page on any site can send these across origins without a preflight: they must place no order."""
    sku = unique_sku("xsite")
    await firstin.create_product(sku, stock=5)
    body = json.dumps({"email": unique_email(), "sku": sku} if path == "/orders" else {"email": unique_email()})
    headers = {"Content-Type": content_type} if content_type else {}
    response = await firstin.http.request(method, path, content=body.encode(), headers=headers)
    assert response.status_code == 415, response.text
    assert await queue_length(firstin, sku) == 0
    json_too = await firstin.http.request(
        method, path, content=body.encode(), headers={"Content-Type": "application/json; charset=utf-8"}
    )
    # the same body declared as JSON passes (/buy meets the default product, which other tests may have made)
    assert json_too.status_code in ((202, 404, 409) if path == "/buy" else (201, 202)), json_too.text


async def test_admin_put_wants_json_too(firstin: FirstinClient) -> None:
    response = await firstin.http.put(
        f"/admin/products/{unique_sku('xsite')}",
        content=b'{"stock": 3}',
        headers={"Content-Type": "text/plain", "Authorization": f"Bearer {firstin.admin_token}"},
    )
    assert response.status_code == 415


@pytest.mark.parametrize("path", ["/", "/admin"])
async def test_pages_cannot_be_framed_sniffed_or_made_to_run_script_from_elsewhere(
    firstin: FirstinClient, path: str
) -> None:
    page = await firstin.http.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert firstin.notifier_url in policy, "the page may open its socket to the notifier, and nowhere else"
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    order = await firstin.place_order(unique_email(), unique_sku("nosniff"))  # the lean order path too
    assert order.headers["x-content-type-options"] == "nosniff"


async def test_an_idempotency_replay_hands_the_session_token_only_to_that_session(firstin: FirstinClient) -> None:
    sku = unique_sku("idem-token")
    await firstin.create_product(sku, stock=10)
    buyer = unique_email()
    first = (await firstin.place_order(buyer, sku, idempotency_key="checkout-123")).json()
    # A stranger repeats the buyer's email, sku, quantity and (guessable) key, without any token.
    stranger = await firstin.place_order(buyer, sku, idempotency_key="checkout-123")
    assert stranger.status_code == 202
    assert stranger.json()["order_id"] == first["order_id"], "the same order: nothing new is queued"
    assert stranger.json()["token"] is None, "but not the buyer's session"
    # The buyer's page, showing its token, gets it.
    own = await firstin.place_order(buyer, sku, idempotency_key="checkout-123", token=first["token"])
    assert own.json()["order_id"] == first["order_id"] and own.json()["token"]


async def test_idempotency_keys_belong_to_the_buyer_and_are_claimed_only_by_a_queued_order(
    firstin: FirstinClient, redis_client: aioredis.Redis
) -> None:
    sku = unique_sku("idem-scope")
    await firstin.create_product(sku, stock=10)
    victim, squatter = unique_email("victim"), unique_email("squatter")
    squatted = await firstin.place_order(squatter, sku, idempotency_key="checkout-7")
    mine = await firstin.place_order(victim, sku, idempotency_key="checkout-7")
    assert mine.status_code == 202 and mine.json()["order_id"] != squatted.json()["order_id"], "no squatting"
    again = await firstin.place_order(victim, sku, quantity=2, idempotency_key="checkout-7")
    assert again.status_code == 422, "the same key with another body from the same buyer"

    later = unique_sku("idem-later")  # not created yet: the first attempt is a 404
    assert (await firstin.place_order(victim, later, idempotency_key="checkout-8")).status_code == 404
    assert not await redis_client.keys(ProductKeys(later).idempotency("*")), "a 404 claims no key"
    await firstin.create_product(later, stock=0)
    assert (await firstin.place_order(victim, later, idempotency_key="checkout-8")).status_code == 409
    assert not await redis_client.keys(ProductKeys(later).idempotency("*")), "nor does a 409"
    await firstin.create_product(later, stock=5)
    retry = await firstin.place_order(victim, later, idempotency_key="checkout-8")
    assert retry.status_code == 202, "neither the 404 nor the 409 kept the key"
    assert retry.json()["position"] == 1
