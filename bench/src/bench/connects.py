"""The `connects` scenario: what one accepted socket costs the notifier, next to what it costs python-socketio.

Two phases in one run, with the same client (bench/sio.py), the same number of sockets and the same number
of handshakes in flight:

1. bare: bench/bare_sio_server.py, a python-socketio server under uvicorn that only accepts the socket, joins
   a room and emits one event. Its CPU per connection is the library's own cost.
2. notifier: `buyers` buyers have each placed one order and it has been decided; then they connect with the
   token from their 202, as buyers returning to a page do. Each socket counts as accepted when its outcome
   (from the replay) has arrived. The notifier's CPU per connection covers the handshake, the token check,
   the room, the replay read and the first event.

The sockets then all leave at once, and the CPU the notifier spends forgetting them is reported too.
"""

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx

from bench import stats
from bench.http1 import Http1Pool
from bench.profiling import Profiler
from bench.sio import BuyerConnection, SocketRefused
from bench.system import Target
from firstin_stack.redis_server import free_port


@contextlib.contextmanager
def _bare_server(ws: str) -> Iterator[tuple[str, int]]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bench.bare_sio_server", str(port), ws])
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{url}/socket.io/?EIO=4&transport=polling", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the bare python-socketio server did not start") from None
                time.sleep(0.05)
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(10)


async def _connect_all(
    url: str, tokens: list[str], concurrency: int, wanted: list[str | None]
) -> tuple[list[BuyerConnection], dict[str, int], float]:
    """Connect one socket per token, `concurrency` at a time; each is done when an `order` event has come (for
    `wanted[i]`, the final event of that order). Returns the sockets, the failures and the seconds it took."""
    failures: dict[str, int] = {}
    gate = asyncio.Semaphore(concurrency)
    sockets: list[BuyerConnection] = []

    async def one(i: int) -> None:
        arrived = asyncio.Event()

        def on_event(conn: BuyerConnection, now: float, name: str, payload: Any) -> None:
            if name != "order" or not isinstance(payload, dict):
                return
            if wanted[i] is None or (payload.get("order_id") == wanted[i] and payload.get("status") != "pending"):
                arrived.set()

        conn = BuyerConnection(i, on_event)
        async with gate:
            try:
                await conn.connect(url, tokens[i], timeout=30)
                sockets.append(conn)
                await asyncio.wait_for(arrived.wait(), 30)
            except (SocketRefused, OSError, TimeoutError, ConnectionError) as exc:
                failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1

    started = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(len(tokens))))
    return sockets, failures, time.monotonic() - started


def _measure(
    url: str, pid: int, tokens: list[str], concurrency: int, wanted: list[str | None], profile: str | None
) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        profiler = Profiler({"server": pid}, profile) if profile else None
        if profiler:
            profiler.start()
        meter = stats.CpuMeter({"server": pid}).start()
        cpu0 = stats.tree_cpu_seconds(pid) or 0.0
        sockets, failures, seconds = await _connect_all(url, tokens, concurrency, wanted)
        cpu = (stats.tree_cpu_seconds(pid) or 0.0) - cpu0
        machine = meter.stop()
        profiled = profiler.stop() if profiler else None
        cpu_before_close = stats.tree_cpu_seconds(pid) or 0.0
        close_started = time.monotonic()
        await asyncio.gather(*(c.close() for c in sockets), return_exceptions=True)
        # The server forgets them after the close frames: wait until its CPU use stops growing.
        last, quiet_since = cpu_before_close, time.monotonic()
        while time.monotonic() - quiet_since < 0.5 and time.monotonic() - close_started < 60:
            await asyncio.sleep(0.1)
            now = stats.tree_cpu_seconds(pid) or 0.0
            if now - last > 0.005:
                last, quiet_since = now, time.monotonic()
        return {
            "sockets": len(tokens),
            "told": len(tokens) - sum(failures.values()),
            "failures": failures,
            "seconds": round(seconds, 2),
            "connects_per_s": stats.rate(len(tokens), seconds),
            "server_cpu_s": round(cpu, 3),
            "server_cpu_ms_per_socket": round(1000 * cpu / len(tokens), 3),
            "disconnect_cpu_ms_per_socket": round(1000 * (last - cpu_before_close) / len(tokens), 3),
            "machine": machine,
            "profile": profiled,
        }

    return asyncio.run(run())


async def _place_and_decide(target: Target, sku: str, buyers: int) -> tuple[list[str], list[str | None]]:
    tokens: list[str] = []
    order_ids: list[str | None] = []
    host_port = target.api_url.split("://", 1)[1]
    host, _, port = host_port.partition(":")
    http = Http1Pool(host, int(port or 80), size=50, timeout=30)
    try:

        async def place(i: int) -> None:
            body = json.dumps({"email": f"connects-{sku}-{i}@example.com", "sku": sku}).encode()
            status, raw = await http.post("/orders", body, {"Content-Type": "application/json"})
            if status != 202:
                raise RuntimeError(f"order {i}: {status} {raw[:200]!r}")
            doc = json.loads(raw)
            tokens.append(doc["token"])
            order_ids.append(doc["order_id"])

        await asyncio.gather(*(place(i) for i in range(buyers)))
    finally:
        http.close()
    async with httpx.AsyncClient(base_url=target.api_url) as client:
        deadline = time.monotonic() + 60
        while True:
            product = (await client.get(f"/products/{sku}")).json()
            if product["queue_length"] == 0 and product["stock_left"] == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"orders not decided within 60 s: {product}")
            await asyncio.sleep(0.1)
    return tokens, order_ids


def run_connects(
    target: Target, *, buyers: int, concurrency: int, bare_ws: str, profile: bool, name: str
) -> dict[str, Any]:
    if target.stack is None:
        raise SystemExit("connects: needs the notifier's pid, so the bench must start the system itself")
    notifier_pid = next(s.pid for s in target.stack.services if s.name == "notifier")
    with _bare_server(bare_ws) as (url, pid):
        bare = _measure(url, pid, ["bare"] * buyers, concurrency, [None] * buyers, f"{name}-bare" if profile else None)
    sku = f"bench-connects-{time.strftime('%H%M%S')}"
    target.create_product(sku, buyers)
    tokens, order_ids = asyncio.run(_place_and_decide(target, sku, buyers))
    notifier = _measure(
        target.notifier_url, notifier_pid, tokens, concurrency, order_ids, f"{name}-notifier" if profile else None
    )
    ratio = notifier["server_cpu_ms_per_socket"] / bare["server_cpu_ms_per_socket"]
    return {
        "scenario": "connects",
        "buyers": buyers,
        "concurrency": concurrency,
        "bare_uvicorn_ws": bare_ws,
        "bare": bare,
        "notifier": notifier,
        "notifier_to_bare_cpu_ratio": round(ratio, 2),
        "target": {"ratio": 1.25, "met": ratio <= 1.25 and notifier["told"] == buyers},
    }
