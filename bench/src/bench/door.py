"""The sold-out door under wrk: a product with stock 0, POST /orders as fast as wrk can; every answer must be
409 and nothing may be queued."""

import json
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import redis

from bench.profiling import Profiler, format_summary
from bench.stats import CpuMeter
from bench.system import Target
from firstin_contracts import ProductKeys

LUA = Path(__file__).resolve().parent / "door.lua"
TARGET_RPS = 10_000


def ensure_wrk(log: Any = print) -> str | None:
    if found := shutil.which("wrk"):
        return found
    if os.geteuid() != 0:
        log("door: wrk is not installed; install it with `sudo apt-get install -y wrk` (Debian/Ubuntu) and rerun")
        return None
    log("door: wrk is not installed; installing Debian's package (apt-get install -y wrk)…")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for step in (["apt-get", "install", "-y", "wrk"], ["apt-get", "update"], ["apt-get", "install", "-y", "wrk"]):
        done = subprocess.run(step, capture_output=True, text=True, timeout=600, env=env, check=False)
        if step[1] == "install" and done.returncode == 0:
            break
    found = shutil.which("wrk")
    if not found:
        log("door: could not install wrk; install it by hand (`apt-get install -y wrk`) and rerun")
    return found


def _wrk_version(wrk: str) -> str:
    done = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
    return (done.stdout or done.stderr).strip().splitlines()[0] if (done.stdout or done.stderr).strip() else ""


def _run_wrk(wrk: str, url: str, sku: str, threads: int, connections: int, seconds: float) -> dict[str, Any]:
    args = [wrk, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "5s"]
    args += ["-s", str(LUA), url, "--", sku]
    done = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {(done.stdout + done.stderr)[-2000:]}")
    match = re.search(r"^WRK_JSON (.*)$", done.stdout, re.M)
    if not match:
        raise RuntimeError(f"wrk printed no WRK_JSON line:\n{done.stdout[-2000:]}")
    data: dict[str, Any] = json.loads(match.group(1))
    data["command"] = " ".join(args)
    data["stdout"] = done.stdout
    seconds_run = data["duration_us"] / 1e6
    data["requests_per_s"] = round(data["requests"] / seconds_run, 1) if seconds_run else None
    rps = re.search(r"Requests/sec:\s+([0-9.]+)", done.stdout)
    data["wrk_requests_per_s"] = float(rps.group(1)) if rps else None
    return data


def run_door(
    target: Target,
    *,
    threads: int,
    connections: int,
    seconds: float,
    warmup: float,
    profile: bool,
    name: str,
    log: Any = print,
) -> dict[str, Any]:
    wrk = ensure_wrk(log)
    result: dict[str, Any] = {"scenario": "door", "system": target.describe()}
    if wrk is None:
        result["skipped"] = "wrk not installed"
        return result
    sku = f"bench-door-{uuid.uuid4().hex[:8]}"
    target.create_product(sku, stock=0)
    probe = httpx.post(f"{target.api_url}/orders", json={"email": "probe@example.com", "sku": sku}, timeout=10)
    result["probe"] = {"status": probe.status_code, "body": probe.text[:200]}
    if probe.status_code != 409:
        raise RuntimeError(f"a sold-out product should answer 409, got {probe.status_code}: {probe.text[:200]}")
    keys = ProductKeys(sku)
    client = redis.Redis.from_url(target.redis_url) if target.redis_url else None

    def line() -> dict[str, int] | None:
        if client is None:
            return None
        return {
            "queue_length": int(client.llen(keys.queue)),
            "last_position": int(client.hget(keys.product, "last_position") or 0),
        }

    before = line()
    if warmup > 0:
        log(f"door: warm-up, wrk {threads} threads x {connections} connections for {warmup:g} s…")
        _run_wrk(wrk, target.api_url, sku, threads, connections, warmup)
    log(f"door: wrk {threads} threads x {connections} connections for {seconds:g} s against {target.api_url}…")
    profiler = None
    if profile and target.pids():
        profiler = Profiler({"api": target.pids()["api"]}, name)
        profiler.start()
    cpu = CpuMeter(target.cpu_names()).start()
    try:
        run = _run_wrk(wrk, target.api_url, sku, threads, connections, seconds)
    finally:
        cpu_result = cpu.stop()
        profile_result = profiler.stop() if profiler else None
    if profile_result:
        log(format_summary(profile_result))
    after = line()
    stdout = run.pop("stdout")
    non_409 = sum(n for code, n in run["statuses"].items() if code != "409")
    result.update(
        {
            "tool": "wrk",
            "wrk_version": _wrk_version(wrk),
            "threads": threads,
            "connections": connections,
            "seconds": seconds,
            "warmup_seconds": warmup,
            "requests": run["requests"],
            "requests_per_s": run["requests_per_s"],
            "statuses": run["statuses"],
            "non_409": non_409,
            "socket_errors": run["errors"],
            "latency_ms": {k: round(v / 1000, 3) for k, v in run["latency_us"].items()},
            "line_before": before,
            "line_after": after,
            "queued_during_run": (after["last_position"] - before["last_position"]) if before and after else None,
            "command": run["command"],
            "wrk_output": stdout.splitlines()[:30],
            "target": {
                "requests_per_s": TARGET_RPS,
                "met": bool(run["requests_per_s"] and run["requests_per_s"] >= TARGET_RPS and non_409 == 0),
            },
            "profile": profile_result,
            "cpu": cpu_result,
        }
    )
    if client is not None:
        client.close()
    return result
