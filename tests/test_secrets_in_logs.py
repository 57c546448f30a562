"""No token or secret reaches a log line: a full run at DEBUG, every secret used the ways clients use them
(headers, auth payloads, and where a client should not but might, URLs), then every service's log searched."""

import asyncio

import httpx
import pytest
import socketio

from firstin_stack import FirstinClient, unique_email, unique_sku

from .conftest import StackFactory

pytestmark = pytest.mark.slow


async def test_no_token_or_secret_reaches_any_log_line(private_stack: StackFactory, client_of) -> None:
    _server, stack = private_stack(FIRSTIN_LOG_LEVEL="DEBUG")
    client: FirstinClient = client_of(stack)
    admin = {"Authorization": f"Bearer {stack.config.admin_token}"}
    sku = unique_sku("secrets")
    await client.create_product(sku, stock=2)
    email = unique_email()
    token = await client.open_session(email)
    socket = await client.listen_for(token)
    placed = await client.place_order(email, sku, idempotency_key="checkout-secret-key", token=token)
    assert placed.status_code == 202
    order_id = placed.json()["order_id"]
    await socket.wait_for_final(order_id)
    replayed = await client.place_order(email, sku, idempotency_key="checkout-secret-key", token=token)
    assert replayed.json()["token"] == token
    other = await client.place_order(unique_email(), sku)  # its token comes in the 202
    other_token = other.json()["token"]

    async with httpx.AsyncClient(base_url=stack.api_url, timeout=10) as http:
        ticket = (await http.post("/admin/stream-tickets", headers=admin)).json()["ticket"]
        async with http.stream("GET", "/admin/stream", params={"ticket": ticket}) as stream:
            assert stream.status_code == 200
        # Secrets where they do not belong: refused, and still not logged.
        assert (await http.get("/admin/products", params={"token": stack.config.admin_token})).status_code == 401
        await http.get(f"/orders/{order_id}", params={"token": token})
        await http.post("/orders", json={"email": email, "sku": sku}, headers={"Authorization": "Bearer " + token[:-3]})
    # A token in the socket's URL as well as in its auth payload, and a tampered one refused.
    in_url = socketio.AsyncClient(reconnection=False)
    await in_url.connect(f"{stack.notifier_url}?token={other_token}", auth={"token": other_token})
    await in_url.disconnect()
    tampered = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await tampered.connect(stack.notifier_url, auth={"token": other_token[:-3] + "abc"})
    await socket.close()
    await asyncio.to_thread(stack.stop)  # shutdown lines too

    secrets = {
        "admin token": stack.config.admin_token,
        "token secret": stack.config.token_secret,
        "buyer token": token,
        "buyer token signature": token.split(".")[2],
        "another buyer's token": other_token,
        "its signature": other_token.split(".")[2],
        "stream ticket": ticket,
    }
    for service in stack.services:
        log = service.tail_log(10_000_000)
        assert log.count("\n") > 10, f"{service.name} logged at DEBUG"
        leaked = [name for name, secret in secrets.items() if secret in log]
        assert not leaked, f"{service.name}'s log holds: {leaked}"
