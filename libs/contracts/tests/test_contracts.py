import time

import jwt
import pytest
from pydantic import ValidationError

from firstin_contracts import (
    BuyerSession,
    InvalidToken,
    OrderRecord,
    OrdersDecided,
    PlaceOrder,
    ProductKeys,
    issue_buyer_token,
    order_id_for,
    sku_of_order_id,
    verify_buyer_token,
)

SECRET = "s" * 32


def test_order_id_embeds_its_sku() -> None:
    order_id = order_id_for("spring-drop-2026")
    assert sku_of_order_id(order_id) == "spring-drop-2026"


@pytest.mark.parametrize(
    "order_id", ["", "nodot", "Default.0123", "default." + "z" * 31, "../etc." + "0" * 32, "default.0123-4567"]
)
def test_malformed_order_ids_name_no_sku(order_id: str) -> None:
    assert sku_of_order_id(order_id) is None


def test_product_keys_share_one_hash_tag() -> None:
    keys = ProductKeys("abc")
    tagged = [keys.product, keys.queue, keys.orders, keys.bought, keys.dead_letters, keys.idempotency("x")]
    tagged += [keys.order_ids, keys.rounds]
    assert all("{abc}" in key for key in tagged)


def test_place_order_rejects_unknown_fields_and_bad_quantity() -> None:
    PlaceOrder(order_id="a.b", sku="abc", email="a@b.c", quantity=1)
    with pytest.raises(ValidationError):
        PlaceOrder(order_id="a.b", sku="abc", email="a@b.c", quantity=0)
    with pytest.raises(ValidationError):
        PlaceOrder.model_validate({"order_id": "a.b", "sku": "abc", "email": "a@b.c", "quantity": 1, "x": 1})


def test_outcome_batch_parses_what_the_decide_script_publishes() -> None:
    # The exact shape decide.lua emits with cjson (no "reason" key on acceptance).
    raw = (
        '{"schema_version":1,"sku":"abc","decisions":[{"order_id":"abc.1","sku":"abc","email":"a@b.c","session_id":"s",'
        '"quantity":1,"position":1,"status":"accepted","decided_at":1795700000000,"decision_seq":1}]}'
    )
    batch = OrdersDecided.model_validate_json(raw)
    assert batch.decisions[0].reason is None


def test_record_tolerates_fields_added_later() -> None:
    raw = (
        '{"order_id":"a.b","sku":"abc","email":"a@b.c","session_id":"s","quantity":1,"position":3,'
        '"status":"pending","created_at":1,"x":2}'
    )
    assert OrderRecord.model_validate_json(raw).position == 3


def test_token_round_trip_names_the_email() -> None:
    token = issue_buyer_token("a@b.c", secret=SECRET, ttl_seconds=60, session_id="s1")
    assert verify_buyer_token(token, secret=SECRET) == BuyerSession("a@b.c", "s1")
    other = verify_buyer_token(issue_buyer_token("a@b.c", secret=SECRET, ttl_seconds=60), secret=SECRET)
    assert other.session_id not in ("", "s1"), "each token without a session starts a new one"


@pytest.mark.parametrize("token", [None, "", 42, "not-a-jwt"])
def test_missing_or_malformed_tokens_are_refused(token: object) -> None:
    with pytest.raises(InvalidToken):
        verify_buyer_token(token, secret=SECRET)


def test_tokens_signed_with_another_secret_are_refused() -> None:
    forged = issue_buyer_token("a@b.c", secret="f" * 32, ttl_seconds=60)
    with pytest.raises(InvalidToken, match="invalid token"):
        verify_buyer_token(forged, secret=SECRET)


def test_tampered_tokens_are_refused() -> None:
    token = issue_buyer_token("a@b.c", secret=SECRET, ttl_seconds=60)
    header, _payload, signature = token.split(".")
    other = issue_buyer_token("victim@b.c", secret=SECRET, ttl_seconds=60).split(".")[1]
    with pytest.raises(InvalidToken):
        verify_buyer_token(f"{header}.{other}.{signature}", secret=SECRET)


def test_expired_tokens_are_refused() -> None:
    token = issue_buyer_token("a@b.c", secret=SECRET, ttl_seconds=60, now=time.time() - 120)
    with pytest.raises(InvalidToken, match="expired"):
        verify_buyer_token(token, secret=SECRET)


def test_tokens_for_another_audience_are_refused() -> None:
    claims = {"sub": "a@b.c", "sid": "s", "aud": "elsewhere", "exp": time.time() + 60}
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    with pytest.raises(InvalidToken):
        verify_buyer_token(token, secret=SECRET)
