"""One load-generator process: holds its share of the buyers' sockets and sends their orders, on one loop.

The parent starts several of these (multiprocessing, spawn), one asyncio loop (uvloop) each, because on a
2-core machine a single Python process cannot both hold thousands of sockets and send thousands of
requests per second. Buyers are split between processes, so a buyer's socket and its orders live in the
same process and share one clock (time.monotonic is system-wide on Linux, so the parent can also compare
times across processes).

Protocol with the parent (over one multiprocessing queue):
  ("ready", wid, {...})      sockets open, waiting for the start signal
  ("progress", wid, {...})   cumulative counters, about every 0.25 s
  ("result", wid, {...})     everything measured, once, at the end
  ("error", wid, traceback)
"""

import asyncio
import contextlib
import json
import multiprocessing.synchronize
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import uvloop

from bench.http1 import Http1Pool
from bench.sio import BuyerConnection, SocketRefused

FINAL = frozenset({"accepted", "rejected"})


@dataclass
class Buyer:
    index: int
    email: str
    token: str | None  # None: take it from the buyer's first 202 (target by URL without the token secret)
    holds_socket: bool


@dataclass
class WorkerPlan:
    worker_id: int
    api_url: str
    notifier_urls: list[str]  # buyer i connects to notifier_urls[i % len(notifier_urls)]
    sku: str
    buyers: list[Buyer]
    orders: list[int]  # buyer index of each order, in sending order
    rate: float | None  # this process's share of the target rate (orders/s); None: as fast as possible
    concurrency: int  # HTTP connections (and so requests in flight) of this process
    connect_concurrency: int = 100
    connect_timeout: float = 30.0
    http_timeout: float = 30.0
    drain_timeout: float = 20.0
    quantity: int = 1
    # The buyer's socket opens right after its 202 and the buyer is done only once it is open (a storm): each of
    # the `concurrency` lanes is one buyer between "Buy" and an open socket.
    socket_after_202: bool = False


@dataclass
class _State:
    sent: int = 0
    done: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    finals: int = 0
    events: int = 0
    # order ids answered 202 whose buyer holds a socket and whose final event has not come yet
    awaiting: set[str] = field(default_factory=set)
    finals_seen: set[str] = field(default_factory=set)
    sending_done: bool = False


def run_worker(
    plan: WorkerPlan,
    out: Any,
    start: multiprocessing.synchronize.Event,
    stop: multiprocessing.synchronize.Event,
    t0: Any,
) -> None:
    """Process entry point."""
    try:
        uvloop.run(_Worker(plan, out, start, stop, t0).run())
    except BaseException:
        out.put(("error", plan.worker_id, traceback.format_exc()))


class _Worker:
    def __init__(self, plan: WorkerPlan, out: Any, start: Any, stop: Any, t0: Any):
        self.plan = plan
        self.out = out
        self.start_event = start
        self.stop_event = stop
        self.t0 = t0
        self.state = _State()
        self.sockets: dict[int, BuyerConnection] = {}
        self.tokens: dict[int, str | None] = {b.index: b.token for b in plan.buyers}
        self.buyers = {b.index: b for b in plan.buyers}
        # (t_sched, t_start, t_end, status, buyer, order_id, position, socket_ready_before_202)
        self.requests: list[tuple[float, float, float, int, int, str | None, int | None, bool]] = []
        self.connect_times: list[float] = []
        self.connect_failures: Counter[str] = Counter()
        self.late_connects: dict[int, asyncio.Task[None]] = {}
        self.late_connect_window: list[float] = []  # first late connect started, last one finished

    # -- sockets --------------------------------------------------------------------------------------
    def _on_event(self, conn: BuyerConnection, now: float, name: str, payload: Any) -> None:
        if name != "order" or not isinstance(payload, dict):
            return
        st = self.state
        st.events += 1
        if payload.get("status") in FINAL:
            st.finals += 1
            order_id = payload.get("order_id")
            if isinstance(order_id, str):
                st.finals_seen.add(order_id)
                st.awaiting.discard(order_id)

    async def _connect(self, buyer: int, gate: asyncio.Semaphore) -> None:
        token = self.tokens[buyer]
        assert token is not None
        conn = BuyerConnection(buyer, self._on_event)
        async with gate:
            started = time.monotonic()
            for attempt in range(3):
                try:
                    url = self.plan.notifier_urls[buyer % len(self.plan.notifier_urls)]
                    await conn.connect(url, token, self.plan.connect_timeout)
                    break
                except SocketRefused as exc:
                    self.connect_failures[f"refused: {exc}"] += 1
                    return
                except (OSError, TimeoutError, ConnectionError) as exc:
                    if attempt == 2:
                        self.connect_failures[type(exc).__name__] += 1
                        return
                    await asyncio.sleep(0.2 * (attempt + 1))
            self.connect_times.append(time.monotonic() - started)
        self.sockets[buyer] = conn

    # -- orders ---------------------------------------------------------------------------------------
    async def _place(self, http: Http1Pool, buyer: int, t_sched: float) -> None:
        st = self.state
        b = self.buyers[buyer]
        body = json.dumps(
            {"email": b.email, "sku": self.plan.sku, "quantity": self.plan.quantity}, separators=(",", ":")
        ).encode()
        headers = {"Content-Type": "application/json"}
        token = self.tokens[buyer]
        if token is not None:
            # Keeps a page's session when the api ties outcomes to the token that placed the order.
            headers["Authorization"] = f"Bearer {token}"
        st.sent += 1
        t_start = time.monotonic()
        status, order_id, position = 0, None, None
        try:
            status, raw = await http.post("/orders", body, headers)
            t_end = time.monotonic()
            if status == 202:
                doc = json.loads(raw)
                order_id, position = doc["order_id"], doc.get("position")
                if self.tokens[buyer] is None:
                    self.tokens[buyer] = doc.get("token")
        except (OSError, TimeoutError, ValueError, KeyError) as exc:
            t_end = time.monotonic()
            st.errors[type(exc).__name__] += 1
        st.done += 1
        st.statuses[status] += 1
        conn = self.sockets.get(buyer)
        ready = conn is not None and conn.connected
        if order_id is not None and b.holds_socket:
            if order_id not in st.finals_seen:
                st.awaiting.add(order_id)
            if conn is None and buyer not in self.late_connects and self.tokens[buyer] is not None:
                # This buyer's socket opens now, with the token of its first 202 (a storm, or no token secret).
                if not self.late_connect_window:
                    self.late_connect_window = [time.monotonic(), time.monotonic()]
                self.late_connects[buyer] = connecting = asyncio.create_task(self._connect(buyer, asyncio.Semaphore(1)))
                if self.plan.socket_after_202:
                    await connecting
        self.requests.append((t_sched, t_start, t_end, status, buyer, order_id, position, ready))

    async def _send_all(self, http: Http1Pool, t0: float) -> None:
        plan = self.plan
        orders = plan.orders
        if plan.rate is None:
            it = iter(orders)

            async def lane() -> None:
                for buyer in it:
                    await self._place(http, buyer, time.monotonic())

            await asyncio.gather(*(lane() for _ in range(min(plan.concurrency, max(1, len(orders))))))
            return
        # Open loop: order i is due at t0 + i / rate whatever the answers to the earlier ones; latency is
        # also kept from that due time, so a generator or server falling behind shows up (no coordinated
        # omission). The pool queues requests beyond `concurrency` connections.
        interval = 1.0 / plan.rate
        tasks: set[asyncio.Task[None]] = set()
        i, n = 0, len(orders)
        while i < n:
            now = time.monotonic()
            while i < n and t0 + i * interval <= now:
                task = asyncio.create_task(self._place(http, orders[i], t0 + i * interval))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                i += 1
            if i < n:
                await asyncio.sleep(max(0.0, min(0.005, t0 + i * interval - time.monotonic())))
        if tasks:
            await asyncio.gather(*tasks)

    # -- progress -------------------------------------------------------------------------------------
    def _progress(self) -> dict[str, Any]:
        st = self.state
        return {
            "sent": st.sent,
            "done": st.done,
            "statuses": dict(st.statuses),
            "finals": st.finals,
            "awaiting": len(st.awaiting),
            "sockets": sum(1 for c in self.sockets.values() if c.connected),
            "sending_done": st.sending_done,
        }

    async def _report_progress(self) -> None:
        while True:
            self.out.put(("progress", self.plan.worker_id, self._progress()))
            await asyncio.sleep(0.25)

    async def run(self) -> None:
        plan = self.plan
        api = urlsplit(plan.api_url)
        http = Http1Pool(api.hostname or "127.0.0.1", api.port or 80, size=plan.concurrency, timeout=plan.http_timeout)
        reporter = asyncio.create_task(self._report_progress())
        gate = asyncio.Semaphore(plan.connect_concurrency)
        connect_started = time.monotonic()
        await asyncio.gather(*(self._connect(b.index, gate) for b in plan.buyers if b.holds_socket and b.token))
        connect_seconds = time.monotonic() - connect_started
        # Warm the HTTP pool is deliberately not done: the first requests pay their TCP connect, as real ones.
        self.out.put(
            (
                "ready",
                plan.worker_id,
                {
                    "sockets": len(self.sockets),
                    "connect_failures": dict(self.connect_failures),
                    "connect_seconds": connect_seconds,
                },
            )
        )
        failures_before_run = Counter(self.connect_failures)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.start_event.wait)
        t0 = float(self.t0.value)
        await asyncio.sleep(max(0.0, t0 - time.monotonic()))
        await self._send_all(http, t0)
        sent_end = time.monotonic()
        self.state.sending_done = True
        if self.late_connects:
            await asyncio.gather(*self.late_connects.values())
            self.late_connect_window[1] = time.monotonic()
        # Drain: until every 202 of a socket-holding buyer has its final event, the parent says stop,
        # or the drain timeout passes (then the missing ones count as lost notifications).
        while self.state.awaiting and not self.stop_event.is_set():
            if time.monotonic() - sent_end > plan.drain_timeout:
                break
            await asyncio.sleep(0.02)
        drained_at = time.monotonic()
        reporter.cancel()
        self.out.put(("progress", self.plan.worker_id, self._progress()))
        result = {
            "requests": self.requests,
            "events": {b: [(t, e) for t, e in conn.events] for b, conn in self.sockets.items()},
            "other_events": sum(c.other_events for c in self.sockets.values()),
            "socket_buyers": sorted(self.sockets),
            "sockets_closed_by_server": sum(1 for c in self.sockets.values() if c.closed_by_server),
            "connect_times": self.connect_times,
            "connect_failures": dict(self.connect_failures),
            "connect_seconds": connect_seconds,
            "errors": dict(self.state.errors),
            "sent_end": sent_end,
            "drained_at": drained_at,
            "late_sockets": len(self.late_connects),
            "late_connect_window": self.late_connect_window,
            "late_connect_failures": dict(self.connect_failures - failures_before_run),
            # wall clock minus monotonic clock, to compare event times with Redis timestamps (ms)
            "clock_offset": time.time() - time.monotonic(),
        }
        self.out.put(("result", plan.worker_id, result))
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*(c.close() for c in self.sockets.values())), 10)
        http.close()
