"""The notifier benchmark's tests (fanout, latency, leave, and the mass disconnect at the end), against a notifier
started here with its own redis-server or a running one. Decisions are published on the outcomes channel as the
processor publishes them; the client processes (clients.py) note when each one reaches its socket."""

import argparse
import contextlib
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import redis

from bench.notifier_scale.clients import ClientPool, buyer_email, buyer_session
from bench.notifier_scale.measure import ProcessCpuMeter, delivery_buckets, scrape_gauge, slow_episodes
from bench.profiling import Profiler
from bench.stats import histogram_quantiles, percentiles
from firstin_contracts import OUTCOMES_CHANNEL
from firstin_stack import RedisServer, ServiceProcess, StackConfig

SKU = "bench-notify"
_DECIDED_AT = '"@decided_at@"'  # placeholder replaced by the publish time (ms) just before PUBLISH
CONNECTED_GAUGE = "firstin_notifier_connected_sockets"


@dataclass
class Target:
    notifier_url: str
    redis_url: str
    token_secret: str
    notifier_pid: int | None
    redis_pid: int | None
    started_here: bool
    info: dict[str, Any] = field(default_factory=dict)


@contextlib.contextmanager
def system_under_test(args: argparse.Namespace) -> Iterator[Target]:
    if args.notifier_url:
        if not args.redis_url:
            raise SystemExit("--notifier-url needs --redis-url (the notifier's Redis, where the bench publishes)")
        yield Target(args.notifier_url.rstrip("/"), args.redis_url, args.token_secret, args.notifier_pid, None, False)
        return
    redis_server = RedisServer().start()
    notifier = None
    try:
        config = StackConfig(redis_url=redis_server.url, token_secret=args.token_secret, log_level=args.log_level)
        config.log_dir.mkdir(parents=True, exist_ok=True)
        notifier = ServiceProcess("notifier", "firstin_notifier", config.notifier_port, config.env(), config.log_dir)
        notifier.start()  # inherits this process's (raised) open-files limit
        notifier.wait_ready(30)
        if args.pin:
            os.sched_setaffinity(notifier.pid, {0})
        assert redis_server.process is not None
        yield Target(
            notifier.url,
            redis_server.url,
            args.token_secret,
            notifier.pid,
            redis_server.process.pid,
            True,
            {"notifier_log": str(notifier.log_path)},
        )
    finally:
        if notifier is not None:
            notifier.stop()
        redis_server.stop()


class Bench:
    def __init__(self, args: argparse.Namespace, target: Target, pool: ClientPool):
        self.args, self.target, self.pool = args, target, pool
        self.redis = redis.Redis.from_url(target.redis_url)
        self.seq = 0
        self.profiles = 0
        pids: dict[str, int | list[int]] = {"clients": pool.pids, "bench": os.getpid()}
        if target.notifier_pid:
            pids["notifier"] = target.notifier_pid
        if target.redis_pid:
            pids["redis"] = target.redis_pid
        self.pids = pids

    def connect(self, total: int) -> dict[str, Any]:
        if total <= self.pool.connected:
            return {}
        spy = self._profiled(f"connect{total}")
        meter = ProcessCpuMeter(self.pids)
        meter.start()
        result = self.pool.connect_up_to(total, self.args.connect_concurrency, self.args.connect_timeout)
        result["cpu"] = meter.stop()
        result["profile"] = self._profile(spy)
        result["notifier_rss_mb"] = meter.rss_mb("notifier")
        print(
            f"  connected {result['connected']}/{result['requested']} more sockets in {result['seconds']} s"
            f" ({result['per_second']}/s; connect p50 {result['connect_ms']['p50']} ms, p99"
            f" {result['connect_ms']['p99']} ms), failed {result['failed']} {result['failures'] or ''}"
            f"; notifier RSS {result['notifier_rss_mb']} MB"
        )
        return result

    def decision(self, index: int, position: int) -> tuple[str, dict[str, Any]]:
        self.seq += 1
        order_id = f"{SKU}.{self.seq:016x}{index:016x}"
        run = self.args.run_id
        rejected = self.seq % 5 == 0  # a few rejections, as a sold-out line has
        d: dict[str, Any] = {
            "order_id": order_id,
            "sku": SKU,
            "email": buyer_email(run, index),
            "session_id": buyer_session(run, index),
            "quantity": 1,
            "position": position,
            "status": "rejected" if rejected else "accepted",
        }
        if rejected:
            d["reason"] = "sold_out"
        d["decided_at"] = "@decided_at@"
        d["decision_seq"] = self.seq
        return order_id, d

    @staticmethod
    def message(decisions: list[dict[str, Any]]) -> str:
        return json.dumps({"schema_version": 1, "sku": SKU, "decisions": decisions}, separators=(",", ":"))

    def publish(self, template: str) -> tuple[float, int]:
        t = time.time()
        receivers = self.redis.publish(OUTCOMES_CHANNEL, template.replace(_DECIDED_AT, str(int(t * 1000))))
        return t, int(receivers)

    def wait_for(self, expected: int, timeout: float, settle: float) -> float:
        """Poll the clients until `expected` events are in (or timeout); then `settle` more for duplicates."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.pool.received() >= expected:
                break
            time.sleep(0.05)
        done = time.time()
        time.sleep(settle)
        return done

    def analyse(
        self,
        expected: dict[str, tuple[int, float]],
        sockets: int,
        replies: list[dict[str, Any]],
        warmup: float = 0.0,
        window: tuple[float, float] | None = None,
    ) -> dict[str, Any]:
        """expected: order id -> (socket index, publish time); warmup: seconds from the first publication left
        out of latency_ms_after_warmup (first calls of every code path, a GC right after the connects)."""
        seen: Counter[str] = Counter()
        per_socket: Counter[int] = Counter()
        latencies: list[float] = []
        timeline: list[tuple[float, float]] = []  # (publish time, latency ms)
        misdelivered = unknown = 0
        began = min((t for _, t in expected.values()), default=0.0)
        last_receipt = 0.0
        for r in replies:
            for index, order_id, t in r["events"]:
                want = expected.get(order_id)
                if want is None:
                    unknown += 1
                    continue
                if want[0] != index:
                    misdelivered += 1  # another buyer's decision: must never happen
                    continue
                seen[order_id] += 1
                per_socket[index] += 1
                if seen[order_id] == 1:
                    latencies.append((t - want[1]) * 1000)
                    timeline.append((want[1], (t - want[1]) * 1000))
                    last_receipt = max(last_receipt, t)
        missing = sum(1 for o in expected if seen[o] == 0)
        duplicates = sum(n - 1 for n in seen.values() if n > 1)
        return {
            "decisions": len(expected),
            "delivered": len(latencies),
            "missing": missing,
            "duplicates": duplicates,
            "misdelivered": misdelivered,
            "unexpected_events": unknown,
            "other_events": sum(r["other_events"] for r in replies),
            "sockets_open": sum(r["open"] for r in replies),
            "sockets_lost": sum(r["lost"] for r in replies),
            "compressed_frames_so_far": sum(r["compressed_frames"] for r in replies),
            "latency_ms": percentiles(latencies, scale=1, digits=2),
            "latency_ms_after_warmup": percentiles(
                [ms for t, ms in timeline if t >= began + warmup], scale=1, digits=2
            ),
            # decisions published while a window was open (in `leave`: while the leaving sockets were forgotten)
            "latency_ms_in_window": percentiles(
                [ms for t, ms in timeline if window and window[0] <= t <= window[1]], scale=1, digits=2
            ),
            "slow_episodes": slow_episodes(timeline, self.args.slow_ms),
            "last_receipt": last_receipt,
            "per_socket": per_socket,
        }

    def _profiled(self, name: str) -> Profiler | None:
        if not self.args.profile or not self.target.notifier_pid:
            return None
        self.profiles += 1
        run_name = f"notifier_scale-{self.args.run_id}-{self.profiles}-{name}"
        spy = Profiler(
            {"notifier": self.target.notifier_pid}, run_name, rate=200, gil=False, lines=False, binary=self.args.py_spy
        )
        spy.start(attach_wait=0.5)
        return spy

    @staticmethod
    def _profile(spy: Profiler | None) -> dict[str, Any] | None:
        summary = spy.stop() if spy else None
        return summary["notifier"] if summary else None

    def fanout(self, sockets: int) -> dict[str, Any]:
        self.pool.call("reset")
        time.sleep(self.args.quiet)
        batch = self.args.batch
        plan: list[tuple[str, list[str]]] = []
        expected_socket: dict[str, int] = {}
        for start in range(0, sockets, batch):
            ids, decisions = [], []
            for position, index in enumerate(range(start, min(start + batch, sockets)), start=start + 1):
                order_id, d = self.decision(index, position)
                ids.append(order_id)
                decisions.append(d)
                expected_socket[order_id] = index
            plan.append((self.message(decisions), ids))
        spy = self._profiled("fanout")
        before = delivery_buckets(self.target.notifier_url)
        meter = ProcessCpuMeter(self.pids)
        meter.start()
        expected: dict[str, tuple[int, float]] = {}
        receivers: set[int] = set()
        for template, ids in plan:
            t, n = self.publish(template)
            receivers.add(n)
            for order_id in ids:
                expected[order_id] = (expected_socket[order_id], t)
        first_publish = min(t for _, t in expected.values())
        published = time.time()
        self.wait_for(sockets, self.args.fanout_timeout, self.args.settle)
        cpu = meter.stop()
        after = delivery_buckets(self.target.notifier_url)
        profile = self._profile(spy)
        result = self.analyse(expected, sockets, self.pool.call("collect"))
        per_socket = result.pop("per_socket")
        exactly_one = sum(1 for i in range(sockets) if per_socket[i] == 1)
        last = result.pop("last_receipt")
        result.update(
            {
                "sockets": sockets,
                "batch": batch,
                "messages": len(plan),
                "publish_seconds": round(published - first_publish, 4),
                "subscribers_per_publish": sorted(receivers),
                "sockets_with_exactly_one_event": exactly_one,
                "first_publish_to_last_receipt_ms": round((last - first_publish) * 1000, 1) if last else None,
                "notifier_emit_delay": histogram_quantiles(before, after),
                "cpu": cpu,
                "notifier_rss_mb": meter.rss_mb("notifier"),
                "profile": profile,
            }
        )
        return result

    def mass_disconnect(self, timeout: float) -> dict[str, Any]:
        """Every client closes its sockets at once (a network blip, a proxy restart): how long the notifier takes
        to forget them, and how long it answers nothing meanwhile (its /metrics, polled)."""
        before, _ = scrape_gauge(self.target.notifier_url, CONNECTED_GAUGE)
        spy = self._profiled("disconnect")
        meter = ProcessCpuMeter(self.pids)
        meter.start()
        began = time.time()
        self.pool.call("disconnect")
        self.pool.connected = 0
        slowest, value, scrapes = 0.0, before, 0
        while time.time() - began < timeout:
            value, took = scrape_gauge(self.target.notifier_url, CONNECTED_GAUGE, timeout=max(1.0, timeout))
            slowest, scrapes = max(slowest, took), scrapes + 1
            if value == 0:
                break
            time.sleep(0.1)
        elapsed = time.time() - began
        result = {
            "sockets_before": before,
            "sockets_left": value,
            "seconds_until_all_gone": round(elapsed, 2) if value == 0 else None,
            "timed_out_after_s": None if value == 0 else round(elapsed, 1),
            "slowest_metrics_answer_s": round(slowest, 2),
            "scrapes": scrapes,
            "cpu": meter.stop(),
            "profile": self._profile(spy),
        }
        print(
            f"  mass disconnect of {before} sockets: "
            + (f"all gone in {elapsed:.1f} s" if value == 0 else f"{value} still there after {elapsed:.0f} s")
            + f"; slowest /metrics answer meanwhile {slowest:.2f} s"
        )
        return result

    def _publish_steady(
        self, sockets: int, duration: float, expected: dict[str, tuple[int, float]], receivers: set[int]
    ) -> tuple[float, float]:
        """Decisions at --rate for `duration` s to sockets 0..sockets-1 in turn; returns (seconds, max lag)."""
        rate, batch = self.args.rate, self.args.latency_batch
        messages = int(rate * duration) // batch
        interval = batch / rate
        next_socket, position, max_lag = 0, 0, 0.0
        began = time.perf_counter() + 0.01
        wall_began = time.time()
        for k in range(messages):
            ids, decisions = [], []
            for _ in range(batch):
                position += 1
                order_id, d = self.decision(next_socket, position)
                ids.append((order_id, next_socket))
                decisions.append(d)
                next_socket = (next_socket + 1) % sockets
            template = self.message(decisions)
            due = began + k * interval
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            else:
                max_lag = max(max_lag, -delay)
            t, n = self.publish(template)
            receivers.add(n)
            for order_id, index in ids:
                expected[order_id] = (index, t)
        return time.time() - wall_began, max_lag

    def leave(self, sockets: int) -> dict[str, Any]:
        """Half the sockets leave at once while decisions keep flowing to the other half at --rate: how late are the
        events of those who stay while the notifier forgets those who left?"""
        stay = sockets // 2
        self.pool.call("reset")
        time.sleep(self.args.quiet)
        spy = self._profiled("leave")
        before = delivery_buckets(self.target.notifier_url)
        meter = ProcessCpuMeter(self.pids)
        meter.start()
        expected: dict[str, tuple[int, float]] = {}
        receivers: set[int] = set()
        window: dict[str, float] = {}

        def leave_midway() -> None:
            time.sleep(self.args.leave_after)
            window["began"] = time.time()
            self.pool.call("disconnect_from", [stay] * len(self.pool.conns))
            while time.time() - window["began"] < 60:
                value, _ = scrape_gauge(self.target.notifier_url, CONNECTED_GAUGE)
                if value is not None and value <= stay:
                    break
                time.sleep(0.05)
            window["ended"] = time.time()

        leaver = threading.Thread(target=leave_midway, daemon=True)
        leaver.start()
        publish_seconds, max_lag = self._publish_steady(stay, self.args.duration, expected, receivers)
        leaver.join()
        self.pool.connected = stay
        self.wait_for(len(expected), 30, self.args.settle)
        cpu = meter.stop()
        after = delivery_buckets(self.target.notifier_url)
        profile = self._profile(spy)
        result = self.analyse(expected, stay, self.pool.call("collect"), window=(window["began"], window["ended"]))
        result.pop("per_socket")
        result.pop("last_receipt")
        result.update(
            {
                "sockets": stay,
                "sockets_left": sockets - stay,
                "target_rate": self.args.rate,
                "achieved_rate": round(len(expected) / publish_seconds, 1),
                "publish_seconds": round(publish_seconds, 2),
                "publisher_max_lag_ms": round(max_lag * 1000, 2),
                "seconds_until_forgotten": round(window["ended"] - window["began"], 2),
                "notifier_emit_delay": histogram_quantiles(before, after),
                "cpu": cpu,
                "profile": profile,
            }
        )
        return result

    def latency(self, sockets: int) -> dict[str, Any]:
        self.pool.call("reset")
        time.sleep(self.args.quiet)
        rate, batch = self.args.rate, self.args.latency_batch
        spy = self._profiled("latency")
        before = delivery_buckets(self.target.notifier_url)
        meter = ProcessCpuMeter(self.pids)
        meter.start()
        expected: dict[str, tuple[int, float]] = {}
        receivers: set[int] = set()
        publish_seconds, max_lag = self._publish_steady(sockets, self.args.duration, expected, receivers)
        self.wait_for(len(expected), 30, self.args.settle)
        cpu = meter.stop()
        after = delivery_buckets(self.target.notifier_url)
        profile = self._profile(spy)
        result = self.analyse(expected, sockets, self.pool.call("collect"), warmup=self.args.warmup)
        result.pop("per_socket")
        result.pop("last_receipt")
        result.update(
            {
                "sockets": sockets,
                "sockets_connected_in_notifier": self.pool.connected,
                "target_rate": rate,
                "warmup_s": self.args.warmup,
                "achieved_rate": round(len(expected) / publish_seconds, 1),
                "decisions_per_message": batch,
                "publish_seconds": round(publish_seconds, 2),
                "publisher_max_lag_ms": round(max_lag * 1000, 2),
                "subscribers_per_publish": sorted(receivers),
                "notifier_emit_delay": histogram_quantiles(before, after),
                "cpu": cpu,
                "profile": profile,
            }
        )
        return result
