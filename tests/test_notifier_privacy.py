"""Nobody sees another buyer's outcome: sockets must prove which buyer they speak for."""

import asyncio

import pytest
import socketio

from firstin_contracts import issue_buyer_token
from firstin_stack import FirstinClient, unique_email, unique_sku


@pytest.mark.parametrize(
    "token",
    [None, "", "forged.token.value", issue_buyer_token("victim@example.com", secret="x" * 32, ttl_seconds=600)],
    ids=["no-token", "empty", "garbage", "signed-with-another-secret"],
)
async def test_sockets_without_a_valid_token_are_refused(firstin: FirstinClient, token: str | None) -> None:
    with pytest.raises(socketio.exceptions.ConnectionError):
        await firstin.listen_for(token)


async def test_another_buyers_token_sees_nothing_of_this_buyer(firstin: FirstinClient) -> None:
    sku = unique_sku("private")
    await firstin.create_product(sku, stock=5)
    victim, snoop = unique_email("victim"), unique_email("snoop")
    snoop_token = await firstin.session_token(snoop, sku)
    snoop_socket = await firstin.listen_for(snoop_token)
    victim_order = (await firstin.place_order(victim, sku)).json()
    victim_socket = await firstin.listen_for(victim_order["token"])

    await victim_socket.wait_for_final(victim_order["order_id"])
    await asyncio.sleep(0.3)
    assert victim_order["order_id"] not in {e["order_id"] for e in snoop_socket.events}
    assert all(e["order_id"] != victim_order["order_id"] for e in snoop_socket.events)
    assert len(snoop_socket.finals()) == 1, "the snoop sees its own order only"


async def test_every_socket_of_a_buyer_gets_the_outcome(firstin: FirstinClient) -> None:
    sku = unique_sku("tabs")
    await firstin.create_product(sku, stock=5)
    email = unique_email()
    token = await firstin.session_token(email, sku)
    tabs = [await firstin.listen_for(token) for _ in range(3)]
    order = (await firstin.place_order(email, sku)).json()
    for tab in tabs:
        assert (await tab.wait_for_final(order["order_id"]))["status"] == "accepted"
