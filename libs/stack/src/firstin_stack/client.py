"""Domain-named helpers to drive a running firstin from tests: place orders, listen as a buyer."""

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import socketio

FINAL_STATUSES = frozenset({"accepted", "rejected"})


class ConnectionRefused(socketio.exceptions.ConnectionError):  # type: ignore[misc]  # untyped library
    """The notifier refused the socket; the message is the reason it gave (connect_error)."""


def unique_sku(prefix: str = "test") -> str:
    """A fresh product per test: tests never share state, so they need no teardown."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def unique_email(prefix: str = "buyer") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


@dataclass
class BuyerSocket:
    """A Socket.IO client connected with a buyer token, or watching a product without one; records every `order`
    event it receives, every `replayed` event (the end of a replay: everything there was to tell has been told),
    and every `progress` event."""

    client: socketio.AsyncClient
    events: list[dict[str, Any]] = field(default_factory=list)
    replays: list[dict[str, Any]] = field(default_factory=list)
    progress: list[dict[str, Any]] = field(default_factory=list)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def _on_progress(self, data: dict[str, Any]) -> None:
        async with self._changed:
            self.progress.append(data)
            self._changed.notify_all()

    async def watch(self, sku: str, *, timeout: float = 10.0) -> dict[str, Any]:
        """Ask to hear the product's progress; returns the acknowledgement ({"watching": [...]} or {"error"})."""
        answer: dict[str, Any] = await self.client.call("watch", {"sku": sku}, timeout=timeout)
        return answer

    async def wait_for_progress(self, condition: Any, timeout: float = 10.0) -> dict[str, Any]:
        """The first `progress` event for which `condition(event)` is true, waiting for it at most `timeout` s."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: any(map(condition, self.progress))), timeout)
        return next(p for p in self.progress if condition(p))

    async def _on_order(self, data: dict[str, Any]) -> None:
        async with self._changed:
            self.events.append(data)
            self._changed.notify_all()

    async def _on_replayed(self, data: dict[str, Any]) -> None:
        async with self._changed:
            self.replays.append(data)
            self._changed.notify_all()

    async def wait_replayed(self, timeout: float = 10.0) -> dict[str, Any]:
        """The first `replayed` event ({"orders": n}), waiting for it at most `timeout` seconds."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: bool(self.replays)), timeout)
        return self.replays[0]

    def finals(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["status"] in FINAL_STATUSES]

    async def wait_for_final(self, order_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """The first final event for the order, waiting for it at most `timeout` seconds."""

        def found() -> dict[str, Any] | None:
            return next((e for e in self.finals() if e["order_id"] == order_id), None)

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: found() is not None), timeout)
        event = found()
        assert event is not None
        return event

    async def close(self) -> None:
        await self.client.disconnect()


class FirstinClient:
    def __init__(self, api_url: str, notifier_url: str, admin_token: str, *, timeout: float = 10.0):
        self.api_url = api_url
        self.notifier_url = notifier_url
        self.admin_token = admin_token
        self.http = httpx.AsyncClient(
            base_url=api_url, timeout=timeout, limits=httpx.Limits(max_connections=200, max_keepalive_connections=200)
        )
        self._sockets: list[BuyerSocket] = []

    async def create_product(self, sku: str, stock: int, per_customer_limit: int | None = None) -> dict[str, Any]:
        response = await self.http.put(
            f"/admin/products/{sku}",
            json={"stock": stock, "per_customer_limit": per_customer_limit},
            headers={"Authorization": f"Bearer {self.admin_token}"},
        )
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    async def admin_get(self, path: str, **params: str | int) -> Any:
        """GET an admin call with the admin token (in its header); raises on an error answer."""
        response = await self.http.get(path, params=params, headers={"Authorization": f"Bearer {self.admin_token}"})
        response.raise_for_status()
        return response.json()

    async def orders_of(
        self, sku: str, round: int | None = None, status: str | None = None, page_size: int = 100
    ) -> list[dict[str, Any]]:
        """Every order of a sale round (default: the current one), following the pages of the admin listing."""
        params: dict[str, str | int] = {"limit": page_size}
        if round is not None:
            params["round"] = round
        if status is not None:
            params["status"] = status
        orders: list[dict[str, Any]] = []
        while True:
            page = await self.admin_get(f"/admin/products/{sku}/orders", **params)
            orders += page["orders"]
            if page["next_cursor"] is None:
                return orders
            params["cursor"] = page["next_cursor"]

    async def export_round(self, sku: str, round: int) -> list[dict[str, Any]]:
        """A round's export, line by line: its orders in position order, then {"sku", "round", "audit"}."""
        response = await self.http.get(
            f"/admin/products/{sku}/rounds/{round}/export", headers={"Authorization": f"Bearer {self.admin_token}"}
        )
        response.raise_for_status()
        return [json.loads(line) for line in response.text.splitlines()]

    async def place_order(
        self,
        email: str,
        sku: str | None = None,
        quantity: int = 1,
        idempotency_key: str | None = None,
        token: str | None = None,
    ) -> httpx.Response:
        """POST /orders; with `token`, the order joins that buyer session (its sockets hear the outcome)."""
        body: dict[str, Any] = {"email": email, "quantity": quantity}
        if sku is not None:
            body["sku"] = sku
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return await self.http.post("/orders", json=body, headers=headers)

    async def open_session(self, email: str) -> str:
        """POST /sessions: a token to connect with before ordering."""
        response = await self.http.post("/sessions", json={"email": email})
        response.raise_for_status()
        token: str = response.json()["token"]
        return token

    async def get_order(self, order_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/orders/{order_id}")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    async def get_product(self, sku: str) -> dict[str, Any]:
        response = await self.http.get(f"/products/{sku}")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    async def listen_for(
        self, token: str | None, *, timeout: float = 10.0, replayed: bool = True, watch: str | None = None
    ) -> BuyerSocket:
        """Connect a buyer socket (websocket transport) and, with `replayed` and a token, wait until the notifier has
        told it the current state of its session's orders. With `watch`, the socket hears that product's progress
        (no token needed for that alone). Raises socketio.exceptions.ConnectionError if refused."""
        client = socketio.AsyncClient(reconnection=False)
        buyer = BuyerSocket(client)
        client.on("order", buyer._on_order)
        client.on("replayed", buyer._on_replayed)
        client.on("progress", buyer._on_progress)
        refusals: list[object] = []
        client.on("connect_error", refusals.append)
        auth = {"token": token} if token is not None else {}
        if watch is not None:
            auth["watch"] = watch
        try:
            await client.connect(
                self.notifier_url,
                auth=auth or None,
                transports=["websocket"],
                wait_timeout=timeout,
                socketio_path="socket.io",
            )
        except socketio.exceptions.ConnectionError as exc:
            reason = refusals[0].get("message") if refusals and isinstance(refusals[0], dict) else None
            raise ConnectionRefused(str(reason or exc)) from exc
        self._sockets.append(buyer)
        if replayed and token is not None:
            await buyer.wait_replayed(timeout)
        return buyer

    async def wait_until_decided(self, order_ids: list[str], timeout: float = 30.0) -> list[dict[str, Any]]:
        """Poll GET /orders until every order has a final status; returns the records."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            records = await asyncio.gather(*(self.get_order(i) for i in order_ids))
            if all(r["status"] in FINAL_STATUSES for r in records):
                return list(records)
            if asyncio.get_running_loop().time() > deadline:
                pending = [r["order_id"] for r in records if r["status"] not in FINAL_STATUSES]
                raise TimeoutError(f"{len(pending)} orders still pending: {pending[:5]}")
            await asyncio.sleep(0.05)

    async def aclose(self) -> None:
        for buyer in self._sockets:
            if buyer.client.connected:
                await buyer.close()
        await self.http.aclose()
