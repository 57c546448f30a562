"""The order endpoint checks a request as a FastAPI route declaring the same parameters would: the same bodies and
headers pass, and the others get the same 400 or 422, naming the same fields, as FastAPI answers them. The two
apps run in process (no Redis): a request the endpoint lets through meets a line that knows no product (404)."""

import inspect
import json
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from firstin_api import order_endpoint
from firstin_api.buyer_tokens import BuyerTokens
from firstin_api.main import create_app
from firstin_api.order_endpoint import OrderEndpoint, Ordering, order_operations
from firstin_api.placing import NewOrder, Order, UnknownProduct
from firstin_api.settings import ApiSettings
from firstin_api.validation import validation_failed
from firstin_contracts import OrderRecord


class NoProducts:
    async def join(self, order: NewOrder) -> OrderRecord:
        raise UnknownProduct(order.sku)

    async def claim_key(self, key: str, order: Order, order_id: str) -> str:
        return order_id

    async def release_key(self, key: str, order: Order, order_id: str) -> None:
        pass

    async def get_order(self, order_id: str) -> OrderRecord | None:
        return None


class OpenDoors:
    async def closed(self, sku: str) -> bool:
        return False


def _served_by_the_endpoint() -> FastAPI:
    app = FastAPI()
    ordering = Ordering(line=NoProducts(), door=OpenDoors(), tokens=BuyerTokens(secret="s" * 40, ttl_seconds=60))
    app.router.routes[0:0] = order_operations(lambda: ordering)
    app.add_exception_handler(RequestValidationError, validation_failed)
    return app


def _served_by_fastapi() -> FastAPI:
    """FastAPI routes with the parameters the endpoint's OpenAPI description declares, answering 200 when valid."""
    app = FastAPI()
    for path, described in (("/orders", order_endpoint.place_order), ("/buy", order_endpoint.buy)):
        app.router.routes.append(APIRoute(path, _valid_with_signature_of(described), methods=["POST"]))
    app.add_exception_handler(RequestValidationError, validation_failed)
    return app


def _valid_with_signature_of(described: Callable[..., Any]) -> Callable[..., Any]:
    async def valid(**_: Any) -> dict[str, bool]:
        return {"valid": True}

    signature = inspect.signature(described)
    valid.__signature__ = signature.replace(return_annotation=dict[str, bool])  # type: ignore[attr-defined]
    return valid


ENDPOINT = _served_by_the_endpoint()
FASTAPI = _served_by_fastapi()

ODD = ["NaN", "Infinity", "1e400", "-0", "true", "null", "2.0", '"3"', '"\\ud800"', '"a\\u0000b"', '""', "[]", "{}"]
values = st.one_of(
    st.sampled_from(ODD),
    st.integers(min_value=-5, max_value=1500).map(str),
    st.sampled_from(["ada@example.com", "ADA@Example.COM", "not-an-email", "x" * 300 + "@example.com"]).map(json.dumps),
    st.sampled_from(["tee", "default", "../../etc", "É"]).map(json.dumps),
    st.integers(min_value=1, max_value=1200).map(lambda n: "[" * n + "]" * n),
)
objects = st.lists(st.tuples(st.sampled_from(["email", "sku", "quantity", "extra", "é"]), values), max_size=4).map(
    lambda pairs: "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{v}" for k, v in pairs) + "}"
)
bodies = st.one_of(objects, values, st.sampled_from(["", "{", "{not json", '{"email": "a@b.c",}']))
keys = st.one_of(st.none(), st.sampled_from(["", "k", "k" * 200, "k" * 201]))
content_types = st.sampled_from(["application/json", "application/json; charset=utf-8", "application/problem+json"])


async def _answers(path: str, body: bytes, headers: dict[str, str]) -> list[httpx.Response]:
    answers = []
    for app in (ENDPOINT, FASTAPI):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
            answers.append(await client.post(path, content=body, headers=headers))
    return answers


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(["/orders", "/buy"]), body=bodies, key=keys, content_type=content_types)
@example(path="/orders", body='{"email": "ada@example.com", "quantity": 2}', key=None, content_type="application/json")
@example(path="/buy", body='{"email": "ada@example.com"}', key="", content_type="application/json")
@example(path="/orders", body='{"email": "ada@example.com"}', key="k" * 201, content_type="application/json")
@example(path="/buy", body='{"email": "nope"}', key="", content_type="application/json")
async def test_a_request_passes_or_fails_as_on_a_fastapi_route_with_the_same_answer(
    path: str, body: str, key: str | None, content_type: str
) -> None:
    headers = {"Content-Type": content_type} | ({"Idempotency-Key": key} if key is not None else {})
    ours, fastapi = await _answers(path, body.encode("utf-8", "surrogatepass"), headers)
    if fastapi.status_code == 200:
        assert ours.status_code == 404, (body, ours.text)  # let through: the line knows no product
    else:
        assert (ours.status_code, ours.json()) == (fastapi.status_code, fastapi.json()), body
        assert ours.headers["content-type"] == fastapi.headers["content-type"]
        assert ours.content == fastapi.content, "encoded alike, byte for byte"


def test_both_paths_are_served_by_the_order_endpoint_and_documented_with_their_models() -> None:
    app = create_app(ApiSettings())
    served = {
        route.path: route.app
        for route in app.routes
        if isinstance(route, APIRoute) and route.path in ("/orders", "/buy") and "POST" in route.methods
    }
    assert {path: type(handler) for path, handler in served.items()} == {
        "/orders": OrderEndpoint,
        "/buy": OrderEndpoint,
    }, "one handler, and no other route for these paths"
    paths = app.openapi()["paths"]
    for path, body in (("/orders", "OrderCreate"), ("/buy", "BuyCreate")):
        operation = paths[path]["post"]
        assert operation["requestBody"]["content"]["application/json"]["schema"] == {
            "$ref": f"#/components/schemas/{body}"
        }
        assert operation["responses"]["202"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/OrderAcceptedPublic"
        }
        assert {"409", "422", "503"} <= set(operation["responses"])
        assert [p["name"] for p in operation["parameters"]] == ["Idempotency-Key", "Authorization"]


async def test_order_requests_go_straight_to_the_handler_the_router_holds_and_the_rest_to_the_app() -> None:
    """OrderRoutes skips Starlette's exception middleware and router for POST /orders and /buy, and sends them to
    the very handlers the routes hold: there is still one handler per path."""
    reached: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(f"app {scope['method']} {scope['path']}")

    operations = order_operations(lambda: None)  # type: ignore[arg-type, return-value]
    for operation in operations:

        async def handler(scope: Any, receive: Any, send: Any, path: str = operation.path) -> None:
            reached.append(f"handler {path}")

        operation.app = handler
    routes = order_endpoint.OrderRoutes(app, operations=operations)
    for method, path in (("POST", "/orders"), ("POST", "/buy"), ("GET", "/orders"), ("POST", "/sessions")):
        await routes({"type": "http", "method": method, "path": path}, None, None)  # type: ignore[arg-type]
    assert reached == ["handler /orders", "handler /buy", "app GET /orders", "app POST /sessions"]
