"""Nobody sees another buyer's outcome: sockets must prove which buyer they speak for."""

import pytest
import socketio

from firstin_contracts import issue_buyer_token
from firstin_stack import FirstinClient, unique_email, unique_sku
from firstin_stack.client import ConnectionRefused

from .sale import barrier


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (None, "missing token"),
        ("", "missing token"),
        ("forged.token.value", "invalid token"),
        (issue_buyer_token("victim@example.com", secret="x" * 32, ttl_seconds=600), "invalid token"),
    ],
    ids=["no-token", "empty", "garbage", "signed-with-another-secret"],
)
async def test_sockets_without_a_valid_token_are_refused(
    firstin: FirstinClient, token: str | None, reason: str
) -> None:
    # A refusal, with its reason: a notifier that crashed or dropped the connection would fail this too.
    with pytest.raises(ConnectionRefused) as refused:
        await firstin.listen_for(token)
    assert str(refused.value) == reason
    assert (await firstin.http.get(f"{firstin.notifier_url}/readyz")).status_code == 200


async def test_another_buyers_token_sees_nothing_of_this_buyer(firstin: FirstinClient) -> None:
    sku = unique_sku("private")
    await firstin.create_product(sku, stock=5)
    victim, snoop = unique_email("victim"), unique_email("snoop")
    snoop_token = await firstin.open_session(snoop)
    snoop_order = (await firstin.place_order(snoop, sku, token=snoop_token)).json()
    snoop_socket = await firstin.listen_for(snoop_token)
    victim_order = (await firstin.place_order(victim, sku)).json()
    victim_socket = await firstin.listen_for(victim_order["token"])

    await victim_socket.wait_for_final(victim_order["order_id"])
    # Sound: a leaked event of the victim's order would reach the snoop's socket before this barrier's event.
    (snooped,) = await barrier(firstin, [(snoop, snoop_token, [snoop_socket])])
    assert victim_order["order_id"] not in {e["order_id"] for e in snoop_socket.events}
    finals = [e["order_id"] for e in snoop_socket.finals()]
    assert finals == [snoop_order["order_id"], snooped], "the snoop sees its own orders only"


async def test_every_socket_of_a_buyer_gets_the_outcome(firstin: FirstinClient) -> None:
    sku = unique_sku("tabs")
    await firstin.create_product(sku, stock=5)
    email = unique_email()
    token = await firstin.open_session(email)
    tabs = [await firstin.listen_for(token) for _ in range(3)]
    order = (await firstin.place_order(email, sku, token=token)).json()
    for tab in tabs:
        assert (await tab.wait_for_final(order["order_id"]))["status"] == "accepted"


async def test_a_session_opened_with_someone_elses_email_sees_none_of_their_orders(firstin: FirstinClient) -> None:
    """Anyone can type anyone's email: outcomes go to the session that placed the order, not to the email."""
    sku = unique_sku("session")
    await firstin.create_product(sku, stock=5)
    victim = unique_email("victim")
    impostor_token = await firstin.open_session(victim)
    live_tab = await firstin.listen_for(impostor_token)  # connected before the order: would hear it live
    victim_order = (await firstin.place_order(victim, sku)).json()
    victim_socket = await firstin.listen_for(victim_order["token"])
    await victim_socket.wait_for_final(victim_order["order_id"])
    replay_tab = await firstin.listen_for(impostor_token)  # connected after the decision: would hear it replayed

    # Sound: a leaked event of the victim's order would reach each impostor socket before this barrier's event.
    (own,) = await barrier(firstin, [(victim, impostor_token, [live_tab, replay_tab])])
    assert [e for e in live_tab.events if e["order_id"] != own] == [], "not live"
    assert [e for e in replay_tab.events if e["order_id"] != own] == [], "not in the replay on connect"


async def test_expired_and_tampered_tokens_are_refused_with_a_reason(firstin: FirstinClient) -> None:
    expired = issue_buyer_token("a@example.com", secret=firstin_token_secret(), ttl_seconds=60, now=0)
    with pytest.raises(socketio.exceptions.ConnectionError, match="token expired"):
        await firstin.listen_for(expired)
    header, _, signature = (await firstin.open_session("a@example.com")).split(".")
    forged_payload = issue_buyer_token("b@example.com", secret="y" * 32, ttl_seconds=60).split(".")[1]
    with pytest.raises(socketio.exceptions.ConnectionError, match="invalid token"):
        await firstin.listen_for(f"{header}.{forged_payload}.{signature}")


def firstin_token_secret() -> str:
    from firstin_serving import DEV_TOKEN_SECRET

    return DEV_TOKEN_SECRET
