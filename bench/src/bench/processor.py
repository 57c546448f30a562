"""The processor alone: a line pre-filled with N orders while no processor runs, then one starts; how fast does
it decide them all?

The product is configured through the api's admin endpoint, and the api stops again; the orders are then written
as the api's enqueue writes them (bench/prefill.py). Only Redis and the processor run while it decides (no api, no
notifier), so the figure is the processor's.
"""

import re
import time
import uuid
from pathlib import Path
from typing import Any, cast

import httpx
import redis

from bench import stats
from bench.prefill import prefill
from bench.profiling import Profiler
from firstin_contracts import ProductKeys
from firstin_stack import RedisServer, ServiceProcess, StackConfig
from firstin_stack.audit import audit_sale


def _configure_product(config: StackConfig, sku: str, stock: int) -> None:
    """Through the api's admin endpoint; the api stops again before the processor starts."""
    api = ServiceProcess("api", "firstin_api", config.api_port, config.env(), config.log_dir)
    api.start()
    try:
        api.wait_ready(60)
        response = httpx.put(
            f"{api.url}/admin/products/{sku}",
            json={"stock": stock, "per_customer_limit": None},
            headers={"Authorization": f"Bearer {config.admin_token}"},
            timeout=10,
        )
        response.raise_for_status()
    finally:
        api.stop()


def _metric(text: str, name: str) -> float | None:
    m = re.search(rf"^{re.escape(name)}(?:\{{[^}}]*\}})? ([0-9.eE+-]+)$", text, re.M)
    return float(m.group(1)) if m else None


def run_processor(
    *,
    orders: int,
    stock: int | None,
    batch_size: int | None,
    log_level: str,
    extra_env: dict[str, str],
    timeout: float,
    profile: bool,
    name: str,
    log: Any = print,
) -> dict[str, Any]:
    stock = orders if stock is None else stock
    sku = f"bench-proc-{uuid.uuid4().hex[:8]}"
    keys = ProductKeys(sku)
    server = RedisServer().start()
    env_extra = dict(extra_env)
    if batch_size:
        env_extra["FIRSTIN_DECIDE_BATCH_SIZE"] = str(batch_size)
    config = StackConfig(redis_url=server.url, api_workers=1, log_level=log_level, extra_env=env_extra)
    processor = ServiceProcess("processor", "firstin_processor", config.processor_port, config.env(), config.log_dir)
    client = redis.Redis.from_url(server.url)
    result: dict[str, Any] = {"scenario": "processor", "sku": sku}
    try:
        _configure_product(config, sku, stock)
        log(f"processor: pre-filling {orders:,} orders (stock {stock:,}) with the processor stopped…")
        prefill_started = time.perf_counter()
        prefill(client, sku, orders)
        prefill_seconds = time.perf_counter() - prefill_started
        queued = int(client.llen(keys.queue))
        log(f"processor: {queued:,} orders in line after {prefill_seconds:.1f} s; starting the processor")
        assert queued == orders, f"expected {orders} queued, found {queued}"

        samples: list[tuple[float, int]] = []
        process_started = time.monotonic()
        processor.start()
        assert server.process is not None
        # started at the first decision seen, so the processor's own start-up is not counted
        cpu = stats.CpuMeter({"redis-server": server.process.pid, "processor": processor.pid})
        profiler: Profiler | None = None
        deadline = process_started + timeout
        decided = 0
        while time.monotonic() < deadline:
            decided = int(client.hget(keys.product, "decided") or 0)
            now = time.monotonic()
            samples.append((now, decided))
            if decided and not cpu.started:
                cpu.start()
            if decided and profiler is None and profile:
                profiler = Profiler({"processor": processor.pid}, name)
                profiler.start()
            if decided >= orders:
                break
            if processor.process is not None and processor.process.poll() is not None:
                raise RuntimeError(f"processor exited:\n{processor.tail_log()}")
            time.sleep(0.002)
        cpu_result = cpu.stop() if cpu.started else None
        profile_result = profiler.stop() if profiler else None
        last_zero = max((t for t, d in samples if d == 0), default=process_started)
        first_full = next((t for t, d in samples if d >= orders), None)
        first_seen = next(((t, d) for t, d in samples if d > 0), None)
        wall = (first_full - last_zero) if first_full else None

        metrics_text = ""
        try:
            metrics_text = httpx.get(f"{processor.url}/metrics", timeout=5, follow_redirects=True).text
        except httpx.HTTPError:
            pass
        batch_sum = _metric(metrics_text, "firstin_processor_batch_duration_seconds_sum")
        batch_count = _metric(metrics_text, "firstin_processor_batch_duration_seconds_count")

        decided_at = []
        for raw in cast(list[bytes], client.hvals(keys.orders)):
            m = re.search(rb'"decided_at":(\d+)', raw)
            if m:
                decided_at.append(int(m.group(1)))
        span_ms = (max(decided_at) - min(decided_at)) if decided_at else 0
        audit = audit_sale(server.url, sku, accepted_orders={})
        result.update(
            {
                "orders": orders,
                "stock": stock,
                "batch_size": batch_size or "service default",
                "prefill_seconds": round(prefill_seconds, 2),
                "decided": decided,
                "all_decided": decided >= orders,
                "seconds_first_to_last": round(wall, 4) if wall else None,
                "decisions_per_s": stats.rate(orders, wall) if wall else None,
                "decided_at_span_ms": span_ms,
                "decisions_per_s_by_decided_at": round(len(decided_at) / (span_ms / 1000), 1) if span_ms else None,
                "process_start_to_first_decision_s": round(first_seen[0] - process_started, 3) if first_seen else None,
                "script_calls": batch_count,
                "script_seconds": round(batch_sum, 4) if batch_sum is not None else None,
                "decisions_per_script_second": round(orders / batch_sum, 1) if batch_sum else None,
                "correctness": {
                    "accepted": audit.accepted,
                    "rejected": audit.rejected,
                    "pending": audit.pending,
                    "oversell": audit.oversell,
                    "fifo_violations": audit.fifo_violations,
                    "duplicates": audit.duplicates,
                    "dead_letters": audit.dead_letters,
                },
                "target": {
                    "decisions_per_s": 50_000,
                    "met": wall is not None and wall > 0 and orders / wall >= 50_000,
                },
                "profile": profile_result,
                "cpu": cpu_result,
            }
        )
        # For the plot, drawn once the run has its verdict (cli.py).
        pts = [(t - last_zero, d) for t, d in samples if t >= last_zero]
        result["series"] = {"seconds": [round(p[0], 4) for p in pts], "decided": [p[1] for p in pts]}
    finally:
        processor.stop()
        client.close()
        server.stop()
        result["service_logs"] = str(Path(config.log_dir))
    return result
