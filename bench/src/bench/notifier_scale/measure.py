"""What the notifier benchmark measures besides the receipts: slow episodes, the CPU and memory of the processes
involved, and the notifier's own /metrics."""

import contextlib
import re
import threading
import time
from typing import Any

import httpx
import psutil


def slow_episodes(timeline: list[tuple[float, float]], slow_ms: float, gap: float = 0.05) -> dict[str, Any]:
    """Decisions slower than slow_ms, grouped into episodes (published less than `gap` s apart): a few long
    stalls (GC, a blocking call) look very different from a general slowness."""
    slow = sorted((t, ms) for t, ms in timeline if ms > slow_ms)
    episodes: list[dict[str, Any]] = []
    for t, ms in slow:
        if episodes and t - episodes[-1]["last_publish"] <= gap:
            e = episodes[-1]
            e["decisions"] += 1
            e["max_ms"] = max(e["max_ms"], round(ms, 1))
            e["last_publish"] = t
        else:
            episodes.append({"first_publish": t, "last_publish": t, "decisions": 1, "max_ms": round(ms, 1)})
    began = min((t for t, _ in timeline), default=0.0)
    for e in episodes:
        e["at_s"] = round(e["first_publish"] - began, 3)
        e["span_ms"] = round((e["last_publish"] - e["first_publish"]) * 1000, 1)
    worst = sorted(episodes, key=lambda e: -e["max_ms"])[:10]
    return {"slow_ms": slow_ms, "decisions": len(slow), "episodes": len(episodes), "worst": worst}


class ProcessCpuMeter:
    """CPU seconds of named processes over a window (psutil), as % of one core; the peak of one of them, sampled
    every 0.1 s; and their memory. Unlike bench.stats.CpuMeter (a process with all its descendants, and what the
    hypervisor took), it counts each process alone: this process ("bench") is the parent of the client processes,
    and of the notifier and redis-server when it started them, and its own figure must not include theirs."""

    def __init__(self, pids: dict[str, int | list[int]]):
        self.procs: dict[str, list[Any]] = {}
        for name, pid in pids.items():
            with contextlib.suppress(psutil.Error):
                self.procs[name] = [psutil.Process(p) for p in (pid if isinstance(pid, list) else [pid])]
        self.began = 0.0
        self.start_cpu: dict[str, float] = {}

    def _cpu(self) -> dict[str, float]:
        return {name: self._cpu_of(name) for name in self.procs}

    def start(self, sample: str | None = "notifier") -> None:
        """Start the window; `sample` names a process whose CPU is also sampled every 0.1 s (its peak)."""
        self.began, self.start_cpu = time.time(), self._cpu()
        self.machine_start = psutil.cpu_times()
        self.samples: list[float] = []
        self._stop_sampling = threading.Event()
        self._sampler: threading.Thread | None = None
        if sample and sample in self.procs:
            self._sampler = threading.Thread(target=self._sample, args=(sample,), daemon=True)
            self._sampler.start()

    def _sample(self, name: str) -> None:
        last_t, last_cpu = time.time(), self._cpu_of(name)
        while not self._stop_sampling.wait(0.1):
            t, cpu = time.time(), self._cpu_of(name)
            self.samples.append(100 * (cpu - last_cpu) / (t - last_t))
            last_t, last_cpu = t, cpu

    def _cpu_of(self, name: str) -> float:
        total = 0.0
        for p in self.procs.get(name, []):
            with contextlib.suppress(Exception):
                t = p.cpu_times()
                total += t.user + t.system
        return total

    def stop(self) -> dict[str, Any]:
        wall = time.time() - self.began
        now = self._cpu()
        if self._sampler is not None:
            self._stop_sampling.set()
            self._sampler.join()
        m0, m1 = self.machine_start, psutil.cpu_times()
        total = sum(m1) - sum(m0)
        idle = (m1.idle + getattr(m1, "iowait", 0.0)) - (m0.idle + getattr(m0, "iowait", 0.0))
        result: dict[str, Any] = {
            "wall_seconds": round(wall, 3),
            # all cores, every process: 100% = the whole machine busy
            "machine_busy_percent": round(100 * (1 - idle / total), 1) if total > 0 else None,
        }
        if self.samples:
            busy = sum(1 for x in self.samples if x >= 90)
            result["notifier_peak_percent"] = round(max(self.samples), 1)
            result["notifier_seconds_at_90_percent_or_more"] = round(busy * 0.1, 1)
        for name, total in now.items():
            used = total - self.start_cpu.get(name, total)
            result[name] = {"cpu_seconds": round(used, 3), "cpu_percent": round(100 * used / wall, 1) if wall else None}
        return result

    def rss_mb(self, name: str) -> float | None:
        procs = self.procs.get(name)
        if not procs:
            return None
        with contextlib.suppress(Exception):
            rss: int = sum(p.memory_info().rss for p in procs)
            return round(rss / 2**20, 1)
        return None


_BUCKET = re.compile(r'^firstin_notifier_delivery_delay_seconds_bucket\{le="([^"]+)"\} ([0-9.e+]+)$', re.M)


def delivery_buckets(notifier_url: str) -> dict[float, float] | None:
    """The notifier's own histogram of decided_at -> emit (cumulative counts per bucket), from /metrics."""
    try:
        text = httpx.get(f"{notifier_url}/metrics/", timeout=5, follow_redirects=True).text
    except httpx.HTTPError:
        return None
    return {float("inf") if le == "+Inf" else float(le): float(n) for le, n in _BUCKET.findall(text)}


def scrape_gauge(notifier_url: str, name: str, timeout: float = 5.0) -> tuple[float | None, float]:
    """A gauge's value from /metrics, and how long the scrape took (the notifier's responsiveness)."""
    began = time.time()
    try:
        text = httpx.get(f"{notifier_url}/metrics/", timeout=timeout, follow_redirects=True).text
    except httpx.HTTPError:
        return None, time.time() - began
    match = re.search(rf"^{name} ([0-9.e+]+)$", text, re.M)
    return (float(match.group(1)) if match else None), time.time() - began
