"""Bad JSON gets a 4xx naming what is wrong, never a 500, on every endpoint that takes a body; and the service is
healthy afterwards. Generated bodies mix what Python's and pydantic's JSON parsers treat differently: NaN and the
infinities, numbers too large for a float, lone surrogates, deep nesting, duplicate keys, wrong types."""

import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firstin_stack import FirstinClient, Stack, unique_email, unique_sku

ODD_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1" + "0" * 400, "1.5", "-0", "true", "false", "null"]
ODD_STRINGS = ['"\\ud800"', '"\\udfff x"', '"a\\u0000b"', '"a@example.com\\ud800"', '""', '"' + "x" * 300 + '"']


def _json_value(depth: int = 0) -> st.SearchStrategy[str]:
    leaves = st.one_of(
        st.sampled_from(ODD_NUMBERS),
        st.sampled_from(ODD_STRINGS),
        st.integers(min_value=-(10**30), max_value=10**30).map(str),
        st.text(max_size=20).map(json.dumps),
        st.emails().map(json.dumps),
    )
    if depth >= 2:
        return leaves
    return st.one_of(
        leaves,
        st.integers(min_value=1, max_value=1500).map(lambda n: "[" * n + "]" * n),  # deep nesting
        st.lists(_json_value(depth + 1), max_size=3).map(lambda items: "[" + ",".join(items) + "]"),
    )


FIELDS = ["email", "sku", "quantity", "stock", "per_customer_limit", "extra"]
bodies = st.one_of(
    st.lists(st.tuples(st.sampled_from(FIELDS), _json_value()), max_size=5).map(
        # duplicate keys are allowed by the lists: each parser keeps one of them
        lambda pairs: "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in pairs) + "}"
    ),
    _json_value(),
)
ENDPOINTS = [("POST", "/orders"), ("POST", "/buy"), ("POST", "/sessions"), ("PUT", "/admin/products/{sku}")]


@pytest.fixture(scope="module")
def api(firstin_stack: Stack) -> httpx.Client:
    with httpx.Client(base_url=firstin_stack.api_url, timeout=10) as client:
        yield client


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(endpoint=st.sampled_from(ENDPOINTS), body=bodies)
def test_generated_json_gets_a_4xx_never_a_5xx(
    api: httpx.Client, firstin_stack: Stack, endpoint: tuple[str, str], body: str
) -> None:
    method, path = endpoint
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {firstin_stack.config.admin_token}"}
    response = api.request(method, path.format(sku=unique_sku("json")), content=body.encode("utf-8", "surrogatepass"),
                           headers=headers)  # fmt: skip
    assert response.status_code < 500, (method, path, body[:200], response.text[:300])
    if response.status_code == 422:
        assert all(isinstance(e["loc"], list) for e in response.json()["detail"])
    assert api.get("/readyz").status_code == 200


@pytest.mark.parametrize("path", ["/orders", "/buy", "/sessions"])
@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400", '"\\ud800"'])
async def test_non_numbers_and_lone_surrogates_get_422_naming_the_field(
    firstin: FirstinClient, path: str, value: str
) -> None:
    response = await firstin.http.post(
        path, content=f'{{"email": {value}}}'.encode(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert ["body", "email"] in [e["loc"] for e in response.json()["detail"]]


@pytest.mark.parametrize("value", ["NaN", "1e400", "true", "2.0", '"3"'])
async def test_quantity_is_a_strict_integer(firstin: FirstinClient, value: str) -> None:
    sku = unique_sku("strict")
    await firstin.create_product(sku, stock=5)
    body = f'{{"email": "{unique_email()}", "sku": "{sku}", "quantity": {value}}}'
    response = await firstin.http.post("/orders", content=body.encode(), headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert ["body", "quantity"] in [e["loc"] for e in response.json()["detail"]]
    assert (await firstin.get_product(sku))["queue_length"] == 0


@pytest.mark.parametrize(("field", "value"), [("stock", "false"), ("stock", "NaN"), ("per_customer_limit", "true")])
async def test_admin_stock_and_limit_are_strict_integers(firstin: FirstinClient, field: str, value: str) -> None:
    body = {"stock": "10", "per_customer_limit": "null", field: value}
    content = "{" + ",".join(f'"{k}": {v}' for k, v in body.items()) + "}"
    response = await firstin.http.put(
        f"/admin/products/{unique_sku('strict')}",
        content=content.encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {firstin.admin_token}"},
    )
    assert response.status_code == 422, response.text
    assert ["body", field] in [e["loc"] for e in response.json()["detail"]]


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/sessions"), ("PUT", "/admin/products/big"), ("POST", "/orders")]
)
async def test_a_chunked_body_over_the_limit_gets_413(firstin: FirstinClient, method: str, path: str) -> None:
    async def chunks():  # no Content-Length: the body arrives chunked
        for _ in range(10):
            yield b" " * 1000

    response = await firstin.http.request(
        method,
        path,
        content=chunks(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {firstin.admin_token}"},
    )
    assert response.status_code == 413, response.text
