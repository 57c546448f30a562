"""A load scenario: buyers with one socket each, a burst of orders, and every figure about what came back.

The parent process (this module) creates the product, splits buyers between load-generator processes
(bench/loadgen.py), starts them together, shows progress, samples the product's line in Redis, and at the
end audits the sale and computes the figures.
"""

import itertools
import json
import math
import multiprocessing
import queue
import threading
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import redis
from tqdm import tqdm

from bench import stats
from bench.loadgen import Buyer, WorkerPlan, run_worker
from bench.profiling import Profiler, format_summary
from bench.system import Target
from firstin_contracts import ProductKeys, issue_buyer_token
from firstin_stack.audit import audit_sale

FINAL = ("accepted", "rejected")


@dataclass
class LoadSpec:
    scenario: str
    stock: int
    orders: int
    buyers: int
    sockets: int  # how many of the buyers hold a socket (the others' outcomes are audited in Redis only)
    rate: float | None  # orders/s in total; None: as fast as possible
    concurrency: int  # HTTP connections in total, split between processes
    processes: int
    drain_timeout: float = 20.0
    connect_concurrency: int = 200  # socket handshakes in flight per process
    settle_timeout: float = 60.0
    # True: as a real drop, each buyer opens its socket right after its 202, with the token from it (storm).
    # False: sockets open before the burst, with tokens signed here.
    socket_after_202: bool = False


class _RedisSampler(threading.Thread):
    """Samples the product's line (LLEN) and decisions (product.decided) every 50 ms."""

    def __init__(self, redis_url: str, sku: str):
        super().__init__(daemon=True)
        self.client = redis.Redis.from_url(redis_url)
        self.keys = ProductKeys(sku)
        self.samples: list[tuple[float, int, int]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            try:
                with self.client.pipeline(transaction=False) as pipe:
                    pipe.llen(self.keys.queue)
                    pipe.hget(self.keys.product, "decided")
                    length, decided = pipe.execute()
                self.samples.append((time.monotonic(), int(length), int(decided or 0)))
            except redis.RedisError:
                pass
            self.halt.wait(0.05)

    def settled(self) -> bool:
        """Nothing waiting and every queued order decided."""
        try:
            with self.client.pipeline(transaction=False) as pipe:
                pipe.llen(self.keys.queue)
                pipe.hmget(self.keys.product, ["decided", "last_position"])
                length, (decided, last) = pipe.execute()
        except redis.RedisError:
            return False
        return int(length) == 0 and int(decided or 0) >= int(last or 0)


def _plan(target: Target, spec: LoadSpec, sku: str) -> list[WorkerPlan]:
    run = uuid.uuid4().hex[:6]
    buyers: list[Buyer] = []
    sign = target.token_secret if not spec.socket_after_202 else None
    # As a page holds them: tokens of the lifetime the api gives (POST /sessions or an earlier 202). A shorter one
    # would look old to the api, which would then sign a new token with every order.
    ttl = target.session_ttl() if sign else 0
    for i in range(spec.buyers):
        email = f"bench-{run}-{i}@example.com"
        token = issue_buyer_token(email, secret=sign, ttl_seconds=ttl) if sign else None
        # spread the socket holders evenly among the buyers
        holds = (i + 1) * spec.sockets // spec.buyers > i * spec.sockets // spec.buyers
        buyers.append(Buyer(i, email, token, holds))
    orders = [k % spec.buyers for k in range(spec.orders)]
    p = spec.processes
    return [
        WorkerPlan(
            worker_id=w,
            api_url=target.api_url,
            notifier_urls=target.notifier_urls or [target.notifier_url],
            sku=sku,
            buyers=[b for b in buyers if b.index % p == w],
            orders=[b for b in orders if b % p == w],
            rate=spec.rate / p if spec.rate else None,
            concurrency=max(1, math.ceil(spec.concurrency / p)),
            connect_concurrency=spec.connect_concurrency,
            drain_timeout=spec.drain_timeout,
            socket_after_202=spec.socket_after_202,
        )
        for w in range(p)
    ]


def run_load(target: Target, spec: LoadSpec, *, name: str, profile: bool, log: Any = print) -> dict[str, Any]:
    sku = f"bench-{spec.scenario}-{uuid.uuid4().hex[:8]}"
    target.create_product(sku, spec.stock)
    plans = _plan(target, spec, sku)
    emails = {b.index: b.email for plan in plans for b in plan.buyers}
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    start, stop = ctx.Event(), ctx.Event()
    t0_shared = ctx.Value("d", 0.0)
    procs = [ctx.Process(target=run_worker, args=(plan, out, start, stop, t0_shared), daemon=True) for plan in plans]
    for proc in procs:
        proc.start()
    socket_total = sum(1 for plan in plans for b in plan.buyers if b.holds_socket and b.token)
    progress: dict[int, dict[str, Any]] = {}
    ready: dict[int, dict[str, Any]] = {}
    results: dict[int, dict[str, Any]] = {}

    def pump(timeout: float) -> None:
        try:
            kind, wid, payload = out.get(timeout=timeout)
        except queue.Empty:
            return
        if kind == "progress":
            progress[wid] = payload
        elif kind == "ready":
            ready[wid] = payload
        elif kind == "result":
            results[wid] = payload
        elif kind == "error":
            raise RuntimeError(f"load generator {wid} failed:\n{payload}")

    def dead() -> list[int]:
        return [i for i, p in enumerate(procs) if p.exitcode not in (None, 0) and i not in results]

    # 1. sockets
    log(
        f"{spec.scenario}: {spec.buyers:,} buyers ({socket_total:,} with a socket), {spec.orders:,} orders, "
        f"stock {spec.stock:,}, {spec.processes} load-generator processes, "
        f"{'as fast as possible' if spec.rate is None else f'{spec.rate:,.0f} orders/s'}, "
        f"{spec.concurrency} HTTP connections"
    )
    connect_started = time.monotonic()
    with tqdm(total=socket_total, desc="sockets open", unit="sock", dynamic_ncols=True) as bar:
        while len(ready) < len(procs):
            pump(0.2)
            if dead():
                raise RuntimeError(f"load generators {dead()} died")
            bar.n = sum(p.get("sockets", 0) for p in progress.values())
            bar.refresh()
        bar.n = sum(r["sockets"] for r in ready.values())
        bar.refresh()
    connect_seconds = time.monotonic() - connect_started
    sockets_open = sum(r["sockets"] for r in ready.values())
    connect_failures: Counter[str] = Counter()
    for r in ready.values():
        connect_failures.update(r["connect_failures"])

    # 2. the burst
    sampler = _RedisSampler(target.redis_url, sku) if target.redis_url else None
    profiler = Profiler(target.pids(), name) if profile and target.pids() else None
    t0 = time.monotonic() + 0.3
    t0_shared.value = t0
    named = target.cpu_names()
    named.update({f"loadgen-{i}": proc.pid for i, proc in enumerate(procs) if proc.pid})
    cpu = stats.CpuMeter(named).start()
    if sampler:
        sampler.start()
    if profiler:
        profiler.start()
    start.set()
    settled_since: float | None = None
    with (
        tqdm(total=spec.orders, desc="orders answered", unit="req", dynamic_ncols=True, position=0) as orders_bar,
        tqdm(total=0, desc="outcomes on sockets", unit="evt", dynamic_ncols=True, position=1) as events_bar,
    ):
        while len(results) < len(procs):
            pump(0.1)
            if dead():
                raise RuntimeError(f"load generators {dead()} died")
            done = sum(p.get("done", 0) for p in progress.values())
            statuses: Counter[int] = Counter()
            for p in progress.values():
                statuses.update({int(k): v for k, v in p.get("statuses", {}).items()})
            orders_bar.n = done
            orders_bar.set_postfix({str(k): v for k, v in sorted(statuses.items())}, refresh=False)
            orders_bar.refresh()
            finals = sum(p.get("finals", 0) for p in progress.values())
            events_bar.total = finals + sum(p.get("awaiting", 0) for p in progress.values())
            events_bar.n = finals
            events_bar.refresh()
            sending_done = len(progress) == len(procs) and all(p.get("sending_done") for p in progress.values())
            if sending_done and sampler is not None and not stop.is_set():
                # Everything is decided in Redis: a missing event will not come any more; stop after 3 s.
                if sampler.settled():
                    settled_since = settled_since or time.monotonic()
                    if time.monotonic() - settled_since > 3.0:
                        stop.set()
                else:
                    settled_since = None
    cpu_result = cpu.stop()
    profile_result = profiler.stop() if profiler else None
    for proc in procs:
        proc.join(15)
        if proc.is_alive():
            proc.kill()

    # 3. wait for Redis to settle, then audit
    settle = None
    if sampler is not None:
        deadline = time.monotonic() + spec.settle_timeout
        while not sampler.settled() and time.monotonic() < deadline:
            time.sleep(0.1)
        settle = time.monotonic() - t0
        time.sleep(0.2)
        sampler.halt.set()
        sampler.join(2)
    holders = {b.index for plan in plans for b in plan.buyers if b.holds_socket}
    report = _figures(target, spec, sku, results, t0, emails, holders, sampler)
    report["sockets"].update(
        {
            "wanted": socket_total,
            "open_at_start": sockets_open,
            "connect_failures": dict(connect_failures),
            "connect_phase_seconds": round(connect_seconds, 2),
        }
    )
    report["seconds_until_redis_settled"] = round(settle, 2) if settle else None
    report["profile"] = profile_result
    report["cpu"] = cpu_result
    if profile_result:
        log(format_summary(profile_result))
    return report


def _figures(
    target: Target,
    spec: LoadSpec,
    sku: str,
    results: dict[int, dict[str, Any]],
    t0: float,
    emails: dict[int, str],
    holders: set[int],
    sampler: _RedisSampler | None,
) -> dict[str, Any]:
    requests = [r for res in results.values() for r in res["requests"]]
    events = {b: evs for res in results.values() for b, evs in res["events"].items()}
    socket_buyers = {b for res in results.values() for b in res["socket_buyers"]}

    # -- HTTP --------------------------------------------------------------------------------------------
    by_status = Counter(r[3] for r in requests)
    answered = [r for r in requests if r[3] != 0]
    last_end = max((r[2] for r in requests), default=t0)
    window = last_end - t0
    errors: Counter[str] = Counter()
    for res in results.values():
        errors.update(res["errors"])
    http = {
        "requests": len(requests),
        "by_status": {str(k) if k else "transport_error": v for k, v in sorted(by_status.items())},
        "transport_errors": dict(errors),
        "send_window_s": round(window, 3),
        "responses_per_s": stats.rate(len(answered), window),
        "accepted_202_per_s": stats.rate(by_status.get(202, 0), window),
        "latency_ms": stats.percentiles([r[2] - r[1] for r in answered]),
        "latency_202_ms": stats.percentiles([r[2] - r[1] for r in answered if r[3] == 202]),
        "latency_409_ms": stats.percentiles([r[2] - r[1] for r in answered if r[3] == 409]),
    }
    if spec.rate:
        http["latency_from_schedule_ms"] = stats.percentiles([r[2] - r[0] for r in answered])
        http["achieved_send_rate_per_s"] = stats.rate(len(requests), max(r[1] for r in requests) - t0)
        http["max_send_lag_ms"] = round(max(r[1] - r[0] for r in requests) * 1000, 2)

    # -- end to end --------------------------------------------------------------------------------------
    accepted_orders = {r[5]: emails[r[4]] for r in requests if r[3] == 202 and r[5]}
    owner_of = {r[5]: r[4] for r in requests if r[3] == 202 and r[5]}
    first_final: dict[tuple[int, str], float] = {}
    final_counts: Counter[tuple[int, str]] = Counter()
    all_final_times: list[float] = []
    for buyer, evs in events.items():
        for t, e in evs:
            if e.get("status") in FINAL:
                key = (buyer, e.get("order_id"))
                final_counts[key] += 1
                first_final.setdefault(key, t)
                all_final_times.append(t)
    e2e, e2e_req, e2e_new_socket, before_202, observed, missing = [], [], [], 0, 0, 0
    for _sched, t_start, t_end, status, buyer, order_id, _pos, ready in requests:
        # A buyer meant to hold a socket whose socket never opened is as untold as one whose event never came.
        if status != 202 or order_id is None or buyer not in holders:
            continue
        t_event = first_final.get((buyer, order_id))
        if t_event is None:
            missing += 1
            continue
        if not ready:
            # The socket opened after this 202, with its token: the flow of a real drop, measured on its own.
            e2e_new_socket.append(max(0.0, t_event - t_end))
            continue
        observed += 1
        if t_event < t_end:
            before_202 += 1
        e2e.append(max(0.0, t_event - t_end))
        e2e_req.append(t_event - t_start)
    own_final_times = [first_final[k] for k in first_final if owner_of.get(k[1]) == k[0]]
    last_event = max(own_final_times, default=t0)
    delivered = len(own_final_times)
    per_second = Counter(int(t - t0) for t in own_final_times)
    end_to_end = {
        "orders_with_socket": sum(1 for oid, b in owner_of.items() if b in socket_buyers),
        "outcomes_delivered": delivered,
        "latency_ms_from_202": stats.percentiles(e2e),
        "latency_ms_from_request": stats.percentiles(e2e_req),
        "latency_ms_from_202_new_socket": stats.percentiles(e2e_new_socket),
        "outcome_before_202_read": before_202,
        "sustained_orders_per_s": stats.rate(delivered, last_event - t0),
        "peak_1s_orders_per_s": max(per_second.values(), default=0),
        "last_outcome_at_s": round(last_event - t0, 3),
    }

    # -- correctness -------------------------------------------------------------------------------------
    audit = audit_sale(target.redis_url, sku, accepted_orders=accepted_orders) if target.redis_url else None
    record_owner: dict[str, str] = {}
    created_at: dict[str, int] = {}
    decided_at: list[int] = []
    if target.redis_url:
        client = redis.Redis.from_url(target.redis_url)
        try:
            for raw in client.hvals(ProductKeys(sku).orders):
                rec = json.loads(raw)
                record_owner[rec["order_id"]] = rec["email"]
                created_at[rec["order_id"]] = int(rec["created_at"])
                if rec.get("decided_at") is not None:
                    decided_at.append(int(rec["decided_at"]))
        finally:
            client.close()
    # Server side: from the order's record being written (Redis TIME, just before the api answers 202) to the
    # outcome read from the buyer's socket. Independent of when the load generator got round to reading the 202.
    offset = {b: res["clock_offset"] for res in results.values() for b in res["socket_buyers"]}
    from_enqueue = [
        (t + offset[buyer]) - created_at[order_id] / 1000
        for (buyer, order_id), t in first_final.items()
        if owner_of.get(order_id) == buyer and order_id in created_at
    ]
    end_to_end["latency_ms_from_enqueue"] = stats.percentiles(from_enqueue)
    wrong = sum(
        n
        for (buyer, order_id), n in final_counts.items()
        if owner_of.get(order_id, -1) != buyer and record_owner.get(order_id) != emails[buyer]
    )
    duplicate_events = sum(n - 1 for n in final_counts.values() if n > 1)
    correctness: dict[str, Any] = {
        "accepted_202": by_status.get(202, 0),
        "rejected_409_at_door": by_status.get(409, 0),
        "stock": spec.stock,
        "queued_beyond_stock": max(0, by_status.get(202, 0) - spec.stock),
        "lost_notifications": missing,
        "events_to_wrong_buyer": wrong,
        "duplicate_events": duplicate_events,
        # queued (a record exists) although the api's answer was not 202 (a 5xx or a dropped connection):
        # the buyer was told to retry an order that is in line
        "queued_without_202": sum(1 for order_id in record_owner if order_id not in owner_of) if record_owner else 0,
    }
    if audit is not None:
        correctness.update(
            {
                "sold": audit.accepted,
                "rejected_after_queueing": audit.rejected,
                "oversell": audit.oversell,
                "fifo_violations": audit.fifo_violations,
                "pending_at_end": audit.pending,
                "lost_orders": audit.lost,
                "duplicate_decisions": audit.duplicates,
                "dead_letters": audit.dead_letters,
                "dead_letter_reasons": audit.dead_letter_reasons,
            }
        )
    decisions = None
    if len(decided_at) > 1:
        span = (max(decided_at) - min(decided_at)) / 1000
        decisions = {
            "decided": len(decided_at),
            "first_to_last_decision_s": span,
            "decisions_per_s": stats.rate(len(decided_at), span) if span else None,
        }

    # -- series for the plot -----------------------------------------------------------------------------
    span = max(last_end, last_event) - t0
    width = max(0.1, round(span / 100, 2))
    nbins = int(span // width) + 1
    resp_bins: dict[int, list[tuple[int, float]]] = {}
    for r in answered:
        resp_bins.setdefault(int((r[2] - t0) // width), []).append((r[3], r[2] - r[1]))
    # end-to-end samples binned by the time their outcome arrived
    e2e_bins: dict[int, list[float]] = {}
    end_of = {r[5]: r[2] for r in requests if r[3] == 202 and r[5]}
    for (buyer, order_id), t in first_final.items():
        if owner_of.get(order_id) == buyer and order_id in end_of:
            e2e_bins.setdefault(int((t - t0) // width), []).append(max(0.0, t - end_of[order_id]))

    def pct(values: list[float], q: float) -> float | None:
        p = stats.percentiles(values)
        return p[f"p{q}"] if p["count"] else None

    series: dict[str, Any] = {"bin_s": width, "t": [round(i * width, 3) for i in range(nbins)]}
    series["responses_per_s"] = [len(resp_bins.get(i, [])) / width for i in range(nbins)]
    series["accepted_202_per_s"] = [sum(1 for s, _ in resp_bins.get(i, []) if s == 202) / width for i in range(nbins)]
    series["rejected_409_per_s"] = [sum(1 for s, _ in resp_bins.get(i, []) if s == 409) / width for i in range(nbins)]
    series["outcomes_per_s"] = [len(e2e_bins.get(i, [])) / width for i in range(nbins)]
    series["http_p50_ms"] = [pct([d for _, d in resp_bins.get(i, [])], 50) for i in range(nbins)]
    series["http_p99_ms"] = [pct([d for _, d in resp_bins.get(i, [])], 99) for i in range(nbins)]
    series["e2e_p50_ms"] = [pct(e2e_bins.get(i, []), 50) for i in range(nbins)]
    series["e2e_p99_ms"] = [pct(e2e_bins.get(i, []), 99) for i in range(nbins)]
    req_bins: dict[int, list[float]] = {}
    start_of = {r[5]: r[1] for r in requests if r[3] == 202 and r[5]}
    for (buyer, order_id), t in first_final.items():
        if owner_of.get(order_id) == buyer and order_id in start_of:
            req_bins.setdefault(int((t - t0) // width), []).append(t - start_of[order_id])
    series["e2e_req_p50_ms"] = [pct(req_bins.get(i, []), 50) for i in range(nbins)]
    series["e2e_req_p99_ms"] = [pct(req_bins.get(i, []), 99) for i in range(nbins)]
    enq_bins: dict[int, list[float]] = {}
    for (buyer, order_id), t in first_final.items():
        if owner_of.get(order_id) == buyer and order_id in created_at:
            enq_bins.setdefault(int((t - t0) // width), []).append(t + offset[buyer] - created_at[order_id] / 1000)
    series["e2e_enq_p50_ms"] = [pct(enq_bins.get(i, []), 50) for i in range(nbins)]
    series["e2e_enq_p99_ms"] = [pct(enq_bins.get(i, []), 99) for i in range(nbins)]
    if sampler is not None and sampler.samples:
        pts = [(t - t0, n, d) for t, n, d in sampler.samples]
        series["redis_t"] = [round(p[0], 3) for p in pts]
        series["queue_length"] = [p[1] for p in pts]
        # decisions per second over the plot's intervals (the 50 ms samples are too noisy to draw)
        edges = [i * width for i in range(nbins + 1)]
        decided_at_edge, j = [], 0
        for edge in edges:
            while j + 1 < len(pts) and pts[j + 1][0] <= edge:
                j += 1
            decided_at_edge.append(pts[j][2] if pts[j][0] <= edge else 0)
        series["decisions_t"] = series["t"]
        series["decisions_per_s"] = [(b - a) / width for a, b in itertools.pairwise(decided_at_edge)]
        series["max_queue_length"] = max(p[1] for p in pts)

    late_windows = [res["late_connect_window"] for res in results.values() if res.get("late_connect_window")]
    late_total = sum(res["late_sockets"] for res in results.values())
    late_span = (max(w[1] for w in late_windows) - min(w[0] for w in late_windows)) if late_windows else 0.0
    socket_stats = {
        "held": len(socket_buyers),
        "connect_ms": stats.percentiles([t for res in results.values() for t in res["connect_times"]]),
        "connect_failures_during_run": {
            k: v for res in results.values() for k, v in res.get("late_connect_failures", {}).items()
        },
        "new_sockets_per_s": stats.rate(late_total, late_span) if late_span else None,
        "closed_by_server_during_run": sum(res["sockets_closed_by_server"] for res in results.values()),
        "late_sockets_from_202_token": sum(res["late_sockets"] for res in results.values()),
        "other_events": sum(res["other_events"] for res in results.values()),
    }
    return {
        "scenario": spec.scenario,
        "sku": sku,
        "spec": asdict(spec),
        "load_generator": {
            "processes": spec.processes,
            "loop": "uvloop, one per process",
            "http_client": "bench/http1.py: HTTP/1.1 keep-alive on httptools",
            "socket_client": "bench/sio.py: Socket.IO v5 / Engine.IO v4 over websocket, a bare asyncio protocol",
            "http_connections_total": spec.concurrency,
        },
        "http": http,
        "end_to_end": end_to_end,
        "decisions_redis": decisions,
        "correctness": correctness,
        "sockets": socket_stats,
        "max_queue_length": series.get("max_queue_length"),
        "series": series,
    }
