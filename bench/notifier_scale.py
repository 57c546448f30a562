"""The notifier's own numbers: sockets held by one process, decision-to-socket latency, and buyers leaving.

    python -m bench.notifier_scale                  # a private redis-server + one notifier, both tests
    python -m bench.notifier_scale --tests fanout --fanout-sockets 10000
    python -m bench.notifier_scale --notifier-url http://127.0.0.1:8001 --redis-url redis://127.0.0.1:6379/0

Test "fanout": N sockets (10,000), each in its own buyer session, connected with the websocket transport; one
decision per session is published on the outcomes channel (OrdersDecided, exactly as decide.lua publishes it,
in batches of --batch decisions, as fast as possible). Each socket must get exactly one `order` event; the
figure is publication -> receipt per socket (target p99 <= 1 s).

Test "latency": M sockets (1,000); decisions are published at a steady --rate (1,000/s) for --duration seconds,
to the sockets in turn; the figure is publication -> receipt per decision (target p99 < 20 ms).

Publication time is the wall clock just before PUBLISH (recorded per message; decided_at is set to it in ms);
receipt time is the wall clock when the client process reads the frame. Clients and notifier share the
machine, so client-side delays are in the figures. The clients are not python-socketio: each client process
(--workers of them, uvloop) holds its sockets as bare asyncio protocols speaking Engine.IO v4 / Socket.IO v5
over a hand-rolled websocket, with no task per socket:

    client: GET /socket.io/?EIO=4&transport=websocket (Upgrade: websocket)
    server: 0{"sid":..}        client: 40{"token":".."}        server: 40{"sid":..}  (or 44{"message":..})
    server: 2                  client: 3                       (Engine.IO ping / pong)
    server: 42["order",{..}]                                   (an event)

Test "leave": N sockets (10,000); decisions flow at --rate to the first half while the other half leaves at once
(every socket closed together, as when a sale ends and its buyers close their tabs); the figure is publication ->
receipt of the decisions published until the notifier has forgotten the sockets that left (target p99 <= 100 ms).

Also measured: the connect ramp (rate, connect time, notifier CPU and RSS), and at the end a mass disconnect (every
socket closed at once, as after a network blip or a proxy restart): how long until the notifier has forgotten
them all, and how long it answers nothing meanwhile. --deflate makes the clients offer permessage-deflate as
browsers do (uvicorn accepts it: more CPU and memory per socket). Every test also reports the notifier's CPU
(total, peak) and the whole machine's, since other work on a shared box skews everything (--wait-quiet).

--profile samples the notifier with py-spy during each phase (install it: `.tools/bin/uv pip install --python
.venv/bin/python py-spy`; raw stacks in bench/results/). Results are printed and written to
bench/results/notifier_scale-*.json.
"""

import argparse
import asyncio
import base64
import contextlib
import json
import multiprocessing as mp
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from bench.sio import client_frame, pop_frame
from firstin_serving import DEV_TOKEN_SECRET

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SKU = "bench-notify"
_DECIDED_AT = '"@decided_at@"'  # placeholder replaced by the publish time (ms) just before PUBLISH


# ---------------------------------------------------------------------------------------------------------------
# Client side (runs in the worker processes)

_HTTP, _OPENING, _CONNECTING, _CONNECTED, _CLOSED = range(5)


class _Sink:
    """What one worker process has received: (socket index, order id, receipt wall time) per `order` event."""

    def __init__(self) -> None:
        self.events: list[tuple[int, str, float]] = []
        self.other_events = 0
        self.lost = 0  # sockets closed after they were connected
        self.compressed = 0  # frames that came permessage-deflate compressed


class _SioSocket(asyncio.Protocol):
    """One Socket.IO client on the websocket transport, as a bare protocol: no task, no reader loop."""

    __slots__ = (
        "buf",
        "deflate",
        "frag",
        "frag_compressed",
        "frag_op",
        "host_header",
        "index",
        "inflater",
        "ready",
        "sink",
        "state",
        "token",
        "transport",
    )

    def __init__(
        self, index: int, token: str, host_header: str, sink: _Sink, ready: asyncio.Future[float], deflate: bool
    ):
        self.index = index
        self.deflate = deflate  # offer permessage-deflate, as browsers do
        self.inflater: Any = None  # zlib decompressor once the server accepted the extension
        self.frag_compressed = False
        self.token = token
        self.host_header = host_header
        self.sink = sink
        self.ready = ready
        self.buf = bytearray()
        self.frag: bytearray | None = None
        self.frag_op = 0
        self.state = _HTTP
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        key = base64.b64encode(os.urandom(16)).decode()
        self.transport.write(
            (
                "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                f"Host: {self.host_header}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                + ("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" if self.deflate else "")
                + "\r\n"
            ).encode()
        )

    def connection_lost(self, exc: Exception | None) -> None:
        if self.state == _CONNECTED:
            self.sink.lost += 1
        self.state = _CLOSED
        self._fail(f"connection lost: {exc!r}")

    def _fail(self, why: str) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(why))
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buf = self.buf
        buf += data
        if self.state == _HTTP:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end])
            del buf[: end + 4]
            if not head.startswith(b"HTTP/1.1 101"):
                self._fail(f"websocket handshake refused: {head[:200]!r}")
                return
            self.state = _OPENING
            if b"permessage-deflate" in head.lower():
                self.inflater = zlib.decompressobj(-15)  # context takeover: one decompressor per socket
        while True:
            try:
                frame = pop_frame(buf)
            except ConnectionError as exc:
                self._fail(str(exc))
                return
            if frame is None:
                return
            b0, payload = frame
            self._frame(bool(b0 & 0x80), bool(b0 & 0x40), b0 & 0x0F, payload, now)

    def _frame(self, fin: bool, compressed: bool, opcode: int, payload: bytes, now: float) -> None:
        if opcode == 0:  # continuation
            if self.frag is None:
                return
            self.frag += payload
            if not fin:
                return
            opcode, payload, self.frag = self.frag_op, bytes(self.frag), None
            compressed = self.frag_compressed
        elif opcode in (1, 2) and not fin:
            self.frag, self.frag_op, self.frag_compressed = bytearray(payload), opcode, compressed
            return
        if compressed and opcode in (1, 2) and self.inflater is not None:
            payload = self.inflater.decompress(payload + b"\x00\x00\xff\xff")
            self.sink.compressed += 1
        if opcode == 1:
            self._packet(payload.decode(), now)
        elif opcode == 9:  # websocket ping (uvicorn's keepalive): pong with the same payload
            self._send(0xA, payload)
        elif opcode == 8:
            with contextlib.suppress(Exception):
                self._send(0x8, payload[:2])
            self._fail("closed by the server")

    def _packet(self, text: str, now: float) -> None:
        if text.startswith("42"):
            if text.startswith('42["order"'):
                body = json.loads(text[2:])[1]
                self.sink.events.append((self.index, str(body.get("order_id")), now))
            else:
                self.sink.other_events += 1
        elif text == "2":
            self._send_text("3")
        elif self.state == _OPENING and text.startswith("0"):
            self._send_text("40" + json.dumps({"token": self.token}, separators=(",", ":")))
            self.state = _CONNECTING
        elif self.state == _CONNECTING and text.startswith("40"):
            self.state = _CONNECTED
            if not self.ready.done():
                self.ready.set_result(now)
        elif text.startswith("44"):
            self._fail(f"refused: {text[2:200]}")
        elif text.startswith("41") or text == "1":
            self._fail("disconnected by the server")

    def _send_text(self, text: str) -> None:
        self._send(0x1, text.encode())

    def _send(self, opcode: int, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(opcode, payload))

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            if self.state == _CONNECTED:
                self._send_text("41")
            self.state = _CLOSED
            self.transport.close()


def buyer_email(run_id: str, index: int) -> str:
    return f"buyer{index}.{run_id}@bench.example"


def buyer_session(run_id: str, index: int) -> str:
    return f"bench-{run_id}-{index}"


@dataclass
class _WorkerConfig:
    worker: int
    host: str
    port: int
    token_secret: str
    token_ttl: int
    run_id: str
    nofile: int
    deflate: bool


class _Worker:
    def __init__(self, config: _WorkerConfig):
        self.config = config
        self.sink = _Sink()
        self.sockets: dict[int, _SioSocket] = {}

    async def connect(self, indices: list[int], concurrency: int, timeout: float) -> dict[str, Any]:
        from firstin_contracts import issue_buyer_token

        loop = asyncio.get_running_loop()
        cfg = self.config
        gate = asyncio.Semaphore(concurrency)
        durations: list[float] = []
        failures: Counter[str] = Counter()

        async def one(index: int) -> None:
            async with gate:
                token = issue_buyer_token(
                    buyer_email(cfg.run_id, index),
                    secret=cfg.token_secret,
                    ttl_seconds=cfg.token_ttl,
                    session_id=buyer_session(cfg.run_id, index),
                )
                ready: asyncio.Future[float] = loop.create_future()
                started = time.time()
                protocol: _SioSocket | None = None
                try:
                    async with asyncio.timeout(timeout):
                        _, protocol = await loop.create_connection(
                            lambda: _SioSocket(index, token, f"{cfg.host}:{cfg.port}", self.sink, ready, cfg.deflate),
                            cfg.host,
                            cfg.port,
                        )
                        connected_at = await ready
                except (OSError, TimeoutError) as exc:
                    failures[f"{type(exc).__name__}: {str(exc)[:120]}"] += 1
                    if protocol is not None:
                        protocol.close()
                    if ready.done() and not ready.cancelled():
                        ready.exception()  # retrieved: no "never retrieved" warning
                    return
                self.sockets[index] = protocol
                durations.append(connected_at - started)

        await asyncio.gather(*(one(i) for i in indices))
        return {"connected": len(durations), "durations": durations, "failures": dict(failures)}

    def open_sockets(self) -> int:
        return sum(1 for s in self.sockets.values() if s.state == _CONNECTED)

    async def serve(self, conn: Connection) -> None:
        loop = asyncio.get_running_loop()
        while True:
            command, arg = await loop.run_in_executor(None, conn.recv)
            reply: Any = None
            if command == "connect":
                reply = await self.connect(**arg)
            elif command == "reset":
                self.sink.events.clear()
                self.sink.other_events = 0
            elif command == "count":
                reply = len(self.sink.events)
            elif command == "collect":
                reply = {
                    "events": self.sink.events,
                    "other_events": self.sink.other_events,
                    "open": self.open_sockets(),
                    "lost": self.sink.lost,
                    "compressed_frames": self.sink.compressed,
                }
            elif command == "status":
                reply = {"open": self.open_sockets(), "lost": self.sink.lost, "pid": os.getpid()}
            elif command == "disconnect":
                for s in self.sockets.values():
                    s.close()
                self.sockets.clear()
            elif command == "disconnect_from":  # the sockets with an index >= arg leave, the others stay
                for index in [i for i in self.sockets if i >= arg]:
                    self.sockets.pop(index).close()
            elif command == "close":
                for s in self.sockets.values():
                    s.close()
                await asyncio.sleep(0.2)
                conn.send(None)
                return
            conn.send(reply)


def _worker_main(conn: Connection, config: _WorkerConfig) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which closes us in order
    raise_nofile(config.nofile)
    worker = _Worker(config)
    try:
        import uvloop

        uvloop.run(worker.serve(conn))
    except ImportError:
        asyncio.run(worker.serve(conn))


# ---------------------------------------------------------------------------------------------------------------
# Parent side


def raise_nofile(wanted: int) -> int:
    """Raise the soft open-files limit towards `wanted` (up to the hard limit); returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


class ClientPool:
    """--workers client processes; socket i lives in process i % workers."""

    def __init__(
        self, workers: int, host: str, port: int, token_secret: str, token_ttl: int, run_id: str, deflate: bool
    ):
        ctx = mp.get_context("spawn")
        self.conns: list[Connection] = []
        self.procs: list[Any] = []
        self.connected = 0
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        for w in range(workers):
            parent, child = ctx.Pipe()
            config = _WorkerConfig(w, host, port, token_secret, token_ttl, run_id, nofile, deflate)
            proc = ctx.Process(target=_worker_main, args=(child, config), name=f"bench-clients-{w}", daemon=True)
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def call(self, command: str, args: list[Any] | None = None, timeout: float = 120.0) -> list[Any]:
        for w, conn in enumerate(self.conns):
            conn.send((command, None if args is None else args[w]))
        replies = []
        for w, conn in enumerate(self.conns):
            if not conn.poll(timeout):
                raise TimeoutError(f"client worker {w} did not answer {command!r} within {timeout}s")
            replies.append(conn.recv())
        return replies

    def connect_up_to(self, total: int, concurrency: int, timeout: float) -> dict[str, Any]:
        """Open sockets self.connected .. total-1."""
        start, workers = self.connected, len(self.conns)
        args = [
            {
                # Contiguous blocks: in `leave`, those who leave (the upper half) and those who stay are held by
                # different client processes, as they are different machines in a real drop; closing sockets
                # does not delay the receipts being timed.
                "indices": [i for i in range(start, total) if (i - start) * workers // (total - start) == w],
                "concurrency": concurrency,
                "timeout": timeout,
            }
            for w in range(workers)
        ]
        began = time.time()
        replies = self.call("connect", args, timeout=timeout + 600)
        elapsed = time.time() - began
        durations = sorted(d for r in replies for d in r["durations"])
        failures: Counter[str] = Counter()
        for r in replies:
            failures.update(r["failures"])
        self.connected = total
        return {
            "requested": total - start,
            "connected": len(durations),
            "failed": sum(failures.values()),
            "failures": dict(failures.most_common(5)),
            "seconds": round(elapsed, 2),
            "per_second": round(len(durations) / elapsed, 1) if elapsed else None,
            "connect_ms": percentiles([d * 1000 for d in durations]),
        }

    def received(self) -> int:
        return sum(self.call("count", timeout=30))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.call("close", timeout=15)
        for p in self.procs:
            p.join(5)
            if p.is_alive():
                p.terminate()
                p.join(5)


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "max": None, "mean": None}
    import numpy as np

    a = np.asarray(values, dtype=float)
    p50, p95, p99 = np.percentile(a, [50, 95, 99])
    return {
        "n": len(values),
        "p50": round(float(p50), 2),
        "p95": round(float(p95), 2),
        "p99": round(float(p99), 2),
        "max": round(float(a.max()), 2),
        "mean": round(float(a.mean()), 2),
    }


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


class CpuMeter:
    """CPU seconds of named processes over a window (psutil), as % of one core."""

    def __init__(self, pids: dict[str, int | list[int]]):
        import psutil

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
        import psutil

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
        import psutil

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
    import httpx

    try:
        text = httpx.get(f"{notifier_url}/metrics/", timeout=5, follow_redirects=True).text
    except httpx.HTTPError:
        return None
    return {float("inf") if le == "+Inf" else float(le): float(n) for le, n in _BUCKET.findall(text)}


def bucket_quantiles(before: dict[float, float] | None, after: dict[float, float] | None) -> dict[str, Any] | None:
    """Upper bounds (ms) of the buckets holding p50/p99 of what the notifier observed between two scrapes."""
    if not before or not after:
        return None
    delta = sorted((le, after[le] - before.get(le, 0.0)) for le in after)
    count = delta[-1][1] if delta else 0
    if not count:
        return None

    def bound(q: float) -> str:
        for le, n in delta:
            if n >= q * count:
                return "inf" if le == float("inf") else f"<= {le * 1000:g}"
        return "inf"

    return {"observed": int(count), "p50_ms": bound(0.5), "p99_ms": bound(0.99)}


class PySpy:
    """py-spy record of one process during a test, summarised as top functions (self and total)."""

    def __init__(self, pid: int, name: str, rate: int = 200, binary: str | None = None):
        self.pid, self.name, self.rate = pid, name, rate
        self.path = RESULTS_DIR / f"{name}.pyspy.txt"
        self.proc: subprocess.Popen[bytes] | None = None
        beside = Path(sys.executable).parent / "py-spy"
        self.binary = binary or (str(beside) if beside.exists() else shutil.which("py-spy"))

    def start(self) -> None:
        if self.binary is None:
            print("  profile: py-spy not found (.tools/bin/uv pip install --python .venv/bin/python py-spy)")
            return
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        args = [self.binary, "record", "--pid", str(self.pid), "--format", "raw", "--output", str(self.path)]
        args += ["--rate", str(self.rate), "--nonblocking"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(0.5)  # attached before the load starts

    def stop(self, top: int = 15) -> dict[str, Any] | None:
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        if not self.path.exists():
            return {"error": err.decode(errors="replace")[-500:]}
        own: Counter[str] = Counter()
        total: Counter[str] = Counter()
        samples = 0
        for line in self.path.read_text(errors="replace").splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            frames = [_short_frame(f) for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
            if not frames:
                continue
            count = int(count_text)
            samples += count
            own[frames[-1]] += count
            for f in set(frames):
                if not _PLUMBING.match(f):
                    total[f] += count

        def table(c: Counter[str]) -> list[list[Any]]:
            return [[round(100 * n / samples, 1), f] for f, n in c.most_common(top)] if samples else []

        summary = {"file": str(self.path), "samples": samples, "rate_hz": self.rate}
        return {**summary, "self": table(own), "total": table(total)}


# Frames every sample passes through (process start, server, event loop): left out of "total". "Runner.run" as
# a *self* frame is time in the event loop's own C code (uvloop: polling, callbacks, socket I/O), kept there.
_PLUMBING = re.compile(
    r"^(<module>|_run_code|_run_module_as_main|main \(__main__\.py\)|Server\.run|Server\.serve|asyncio_run"
    r"|Runner\.run|run_until_complete|run_forever|_run_once|Handle\._run)( |$)"
)


def _short_frame(frame: str) -> str:
    """'func (path/to/mod.py:123)' -> 'func (mod.py)': lines of one function summed."""
    if " (" in frame and frame.endswith(")"):
        func, loc = frame[:-1].split(" (", 1)
        return f"{func} ({loc.rsplit('/', 1)[-1].split(':', 1)[0]})"
    return frame


# ---------------------------------------------------------------------------------------------------------------
# The tests


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
    from firstin_stack import RedisServer, StackConfig
    from firstin_stack.services import ServiceProcess

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
        import redis

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
        meter = CpuMeter(self.pids)
        meter.start()
        result = self.pool.connect_up_to(total, self.args.connect_concurrency, self.args.connect_timeout)
        result["cpu"] = meter.stop()
        result["profile"] = spy.stop() if spy else None
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
        from firstin_contracts import OUTCOMES_CHANNEL

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
            "latency_ms": percentiles(latencies),
            "latency_ms_after_warmup": percentiles([ms for t, ms in timeline if t >= began + warmup]),
            # decisions published while a window was open (in `leave`: while the leaving sockets were forgotten)
            "latency_ms_in_window": percentiles([ms for t, ms in timeline if window and window[0] <= t <= window[1]]),
            "slow_episodes": slow_episodes(timeline, self.args.slow_ms),
            "last_receipt": last_receipt,
            "per_socket": per_socket,
        }

    def _profiled(self, name: str) -> PySpy | None:
        if not self.args.profile or not self.target.notifier_pid:
            return None
        self.profiles += 1
        file_name = f"notifier_scale-{self.args.run_id}-{self.profiles}-{name}"
        spy = PySpy(self.target.notifier_pid, file_name, binary=self.args.py_spy)
        spy.start()
        return spy

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
        meter = CpuMeter(self.pids)
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
        profile = spy.stop() if spy else None
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
                "notifier_emit_delay": bucket_quantiles(before, after),
                "cpu": cpu,
                "notifier_rss_mb": meter.rss_mb("notifier"),
                "profile": profile,
            }
        )
        return result

    def mass_disconnect(self, timeout: float) -> dict[str, Any]:
        """Every client closes its sockets at once (a network blip, a proxy restart): how long the notifier takes
        to forget them, and how long it answers nothing meanwhile (its /metrics, polled)."""
        gauge = "firstin_notifier_connected_sockets"
        before, _ = scrape_gauge(self.target.notifier_url, gauge)
        spy = self._profiled("disconnect")
        meter = CpuMeter(self.pids)
        meter.start()
        began = time.time()
        self.pool.call("disconnect")
        self.pool.connected = 0
        slowest, value, scrapes = 0.0, before, 0
        while time.time() - began < timeout:
            value, took = scrape_gauge(self.target.notifier_url, gauge, timeout=max(1.0, timeout))
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
            "profile": spy.stop() if spy else None,
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
        gauge = "firstin_notifier_connected_sockets"
        self.pool.call("reset")
        time.sleep(self.args.quiet)
        spy = self._profiled("leave")
        before = delivery_buckets(self.target.notifier_url)
        meter = CpuMeter(self.pids)
        meter.start()
        expected: dict[str, tuple[int, float]] = {}
        receivers: set[int] = set()
        window: dict[str, float] = {}

        def leave_midway() -> None:
            time.sleep(self.args.leave_after)
            window["began"] = time.time()
            self.pool.call("disconnect_from", [stay] * len(self.pool.conns))
            while time.time() - window["began"] < 60:
                value, _ = scrape_gauge(self.target.notifier_url, gauge)
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
        profile = spy.stop() if spy else None
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
                "notifier_emit_delay": bucket_quantiles(before, after),
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
        meter = CpuMeter(self.pids)
        meter.start()
        expected: dict[str, tuple[int, float]] = {}
        receivers: set[int] = set()
        publish_seconds, max_lag = self._publish_steady(sockets, self.args.duration, expected, receivers)
        self.wait_for(len(expected), 30, self.args.settle)
        cpu = meter.stop()
        after = delivery_buckets(self.target.notifier_url)
        profile = spy.stop() if spy else None
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
                "notifier_emit_delay": bucket_quantiles(before, after),
                "cpu": cpu,
                "profile": profile,
            }
        )
        return result


def scrape_gauge(notifier_url: str, name: str, timeout: float = 5.0) -> tuple[float | None, float]:
    """A gauge's value from /metrics, and how long the scrape took (the notifier's responsiveness)."""
    import httpx

    began = time.time()
    try:
        text = httpx.get(f"{notifier_url}/metrics/", timeout=timeout, follow_redirects=True).text
    except httpx.HTTPError:
        return None, time.time() - began
    match = re.search(rf"^{name} ([0-9.e+]+)$", text, re.M)
    return (float(match.group(1)) if match else None), time.time() - began


def _print_brief(name: str, r: dict[str, Any]) -> None:
    print(f"  {name}: p99 {r['latency_ms']['p99']} ms, missing {r['missing']}, duplicates {r['duplicates']}")


def _episode_text(e: dict[str, Any]) -> str:
    return f"{e['decisions']} decisions over {e['span_ms']} ms at +{e['at_s']} s, max {e['max_ms']} ms"


def _cpu_text(cpu: dict[str, Any], name: str) -> str:
    c = cpu.get(name)
    return f"{c['cpu_percent']}% ({c['cpu_seconds']} s)" if c else "-"


def print_table(results: dict[str, Any]) -> None:
    rows: list[tuple[str, str, str]] = []
    for name, r in results["tests"].items():
        lat = r["latency_ms"]
        if name.startswith("fanout"):
            target = "p99 <= 1000 ms, every socket exactly 1 event"
            ok = (
                lat["p99"] is not None
                and lat["p99"] <= 1000
                and r["sockets_with_exactly_one_event"] == r["sockets"]
                and not r["misdelivered"]
            )
            load = f"{r['sockets']} sockets, {r['messages']} msgs x {r['batch']} decisions"
        elif name.startswith("leave"):
            win = r["latency_ms_in_window"]
            target = "p99 <= 100 ms for those who stay while the others leave"
            ok = win["p99"] is not None and win["p99"] <= 100 and not r["missing"] and not r["misdelivered"]
            load = (
                f"{r['sockets']} stay, {r['sockets_left']} leave at once (forgotten in "
                f"{r['seconds_until_forgotten']} s, p99 meanwhile {win['p99']} ms over {win['n']} decisions), "
                f"{r['achieved_rate']}/s x {r['publish_seconds']} s"
            )
        else:
            target = "p99 < 20 ms"
            ok = lat["p99"] is not None and lat["p99"] < 20 and not r["missing"] and not r["misdelivered"]
            load = (
                f"{r['sockets']} sockets ({r['sockets_connected_in_notifier']} open), "
                f"{r['achieved_rate']}/s x {r['publish_seconds']} s"
            )
        emit = r.get("notifier_emit_delay") or {}
        rows += [
            (name, "load", load),
            (name, "delivered / missing / dup / misdelivered",
             f"{r['delivered']}/{r['decisions']} / {r['missing']} / {r['duplicates']} / {r['misdelivered']}"),
            (name, "latency ms p50 / p95 / p99 / max",
             f"{lat['p50']} / {lat['p95']} / {lat['p99']} / {lat['max']}  (mean {lat['mean']})"),
            *(
                [(name, f"  same without the first {r['warmup_s']:g} s",
                  f"{warm['p50']} / {warm['p95']} / {warm['p99']} / {warm['max']}  (n {warm['n']})")]
                if (warm := r.get("latency_ms_after_warmup")) and r.get("warmup_s") else []
            ),
            (name, "notifier decided->emit (its histogram)",
             f"p50 {emit.get('p50_ms')} ms, p99 {emit.get('p99_ms')} ms" if emit else "-"),
            (name, f"decisions > {r['slow_episodes']['slow_ms']:g} ms / in episodes / worst episode",
             f"{r['slow_episodes']['decisions']} / {r['slow_episodes']['episodes']} / "
             + (_episode_text(r["slow_episodes"]["worst"][0]) if r["slow_episodes"]["worst"] else "-")),
            (name, "CPU notifier / clients / redis",
             f"{_cpu_text(r['cpu'], 'notifier')} / {_cpu_text(r['cpu'], 'clients')} / {_cpu_text(r['cpu'], 'redis')}"
             f" over {r['cpu']['wall_seconds']} s; notifier peak {r['cpu'].get('notifier_peak_percent')}%,"
             f" >= 90% for {r['cpu'].get('notifier_seconds_at_90_percent_or_more')} s;"
             f" machine {r['cpu'].get('machine_busy_percent')}% busy"),
            (name, "target", f"{target}: {'MET' if ok else 'NOT MET'}"),
        ]  # fmt: skip
        if name.startswith("fanout"):
            rows.insert(
                len(rows) - 4,
                (
                    name,
                    "sockets with exactly one event",
                    f"{r['sockets_with_exactly_one_event']}/{r['sockets']}; publish took {r['publish_seconds']} s;"
                    f" last receipt {r['first_publish_to_last_receipt_ms']} ms after first publish",
                ),
            )
    if md := results.get("mass_disconnect"):
        gone = md["seconds_until_all_gone"]
        rows.append(
            (
                "disconnect",
                f"{md['sockets_before']:.0f} sockets closed at once",
                (
                    f"all gone in {gone} s"
                    if gone is not None
                    else f"{md['sockets_left']} left after {md['timed_out_after_s']} s"
                )
                + f"; slowest /metrics answer {md['slowest_metrics_answer_s']} s;"
                + f" notifier CPU {_cpu_text(md['cpu'], 'notifier')}",
            )
        )
    for c in results.get("connect", []):
        rows.append(
            (
                "connect",
                f"+{c['requested']} sockets",
                f"{c['connected']} ok, {c['failed']} failed in {c['seconds']} s ({c['per_second']}/s), connect p50"
                f" {c['connect_ms']['p50']} ms p99 {c['connect_ms']['p99']} ms;"
                f" notifier CPU {_cpu_text(c['cpu'], 'notifier')},"
                f" RSS {c['notifier_rss_mb']} MB",
            )
        )
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    print()
    print(f"{'test':<{w0}}  {'figure':<{w1}}  value")
    print(f"{'-' * w0}  {'-' * w1}  {'-' * 40}")
    for test, figure, value in rows:
        print(f"{test:<{w0}}  {figure:<{w1}}  {value}")
    profiled = dict(results["tests"])
    for c in results.get("connect", []):
        profiled[f"connect +{c['requested']}"] = c
    if "mass_disconnect" in results:
        profiled["mass disconnect"] = results["mass_disconnect"]
    for name, r in profiled.items():
        profile = r.get("profile")
        if not profile:
            continue
        if "error" in profile:
            print(f"\n{name}: py-spy failed: {profile['error']}")
            continue
        print(f"\n{name}: notifier profile, {profile['samples']} samples at {profile['rate_hz']} Hz")
        print(f"  (busy samples only; raw stacks in {profile['file']})")
        print("   self%  function")
        for pct, f in profile["self"][:12]:
            print(f"  {pct:6.1f}  {f}")
        print("  total%  function")
        for pct, f in profile["total"][:20]:
            print(f"  {pct:6.1f}  {f}")


def wait_quiet(timeout: float, busy_percent: float = 15.0) -> float:
    """Wait (up to timeout) for 3 s in a row with the whole machine under busy_percent: other benchmarks on a
    shared box skew every figure here. Returns the seconds waited."""
    import psutil

    began = time.time()
    while time.time() - began < timeout:
        busy = psutil.cpu_percent(interval=3.0)
        if busy < busy_percent:
            break
        print(f"  machine {busy}% busy, waiting for quiet ...")
    return round(time.time() - began, 1)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.notifier_scale",
        description="Sockets held, decision-to-socket latency and a mass leave, for one notifier process.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--tests", default="latency,fanout", help="comma-separated, run in this order: latency, fanout, leave"
    )
    p.add_argument("--leave-sockets", type=int, default=10_000, help="sockets of the leave test; half of them leave")
    p.add_argument("--leave-after", type=float, default=2.0, help="leave test: seconds of publishing before they go")
    p.add_argument("--fanout-sockets", type=int, default=10_000, help="sockets of the fan-out test")
    p.add_argument("--fanout-rounds", type=int, default=3, help="fan-outs in a row to the same sockets")
    p.add_argument("--batch", type=int, default=200, help="decisions per published message (fan-out)")
    p.add_argument("--fanout-timeout", type=float, default=60.0, help="seconds to wait for every fan-out event")
    p.add_argument("--latency-sockets", type=int, default=1_000, help="sockets receiving in the latency test")
    p.add_argument("--rate", type=float, default=1_000.0, help="decisions per second (latency test)")
    p.add_argument("--duration", type=float, default=20.0, help="seconds of steady publishing (latency test)")
    p.add_argument(
        "--warmup", type=float, default=1.0, help="latency test: also report percentiles without the first s"
    )
    p.add_argument("--latency-batch", type=int, default=1, help="decisions per published message (latency test)")
    p.add_argument("--slow-ms", type=float, default=20.0, help="a decision slower than this is 'slow' (episodes)")
    p.add_argument("--workers", type=int, default=4, help="client processes")
    p.add_argument("--connect-concurrency", type=int, default=64, help="connects in flight per client process")
    p.add_argument("--connect-timeout", type=float, default=60.0, help="seconds for one socket to connect")
    p.add_argument("--quiet", type=float, default=1.0, help="seconds of rest before each test")
    p.add_argument("--settle", type=float, default=1.0, help="seconds to wait for duplicates after the last event")
    p.add_argument("--notifier-url", help="a running notifier (unset: start a redis-server and a notifier here)")
    p.add_argument("--redis-url", help="the running notifier's Redis (with --notifier-url)")
    p.add_argument("--notifier-pid", type=int, help="the running notifier's pid, for its CPU and --profile")
    p.add_argument("--token-secret", default=os.environ.get("FIRSTIN_TOKEN_SECRET", DEV_TOKEN_SECRET))
    p.add_argument("--token-ttl", type=int, default=3600)
    p.add_argument("--log-level", default="INFO", help="the started notifier's FIRSTIN_LOG_LEVEL")
    p.add_argument(
        "--deflate",
        action="store_true",
        help="clients offer permessage-deflate, as browsers do (uvicorn accepts it; else plain frames)",
    )
    p.add_argument("--pin", action="store_true", help="pin the started notifier to CPU 0 and the rest to the others")
    p.add_argument(
        "--disconnect-timeout",
        type=float,
        default=120.0,
        help="at the end, close every socket at once and watch the notifier forget them for up to this long (0: skip)",
    )
    p.add_argument("--wait-quiet", type=float, default=0.0, help="first wait up to this many s for an idle machine")
    p.add_argument("--profile", action="store_true", help="py-spy the notifier during each test")
    p.add_argument("--py-spy", help="path of the py-spy binary (unset: beside python, else on PATH)")
    p.add_argument("--run-id", default=uuid.uuid4().hex[:8], help="names this run's buyers and result files")
    p.add_argument(
        "--output", type=Path, help="results JSON (unset: bench/results/notifier_scale-<time>-<run id>.json)"
    )
    args = p.parse_args(argv)
    args.tests = [t.strip() for t in args.tests.split(",") if t.strip()]
    unknown = set(args.tests) - {"latency", "fanout", "leave"}
    if unknown:
        p.error(f"unknown tests: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    needed = (
        max(
            args.fanout_sockets if "fanout" in args.tests else 0,
            args.leave_sockets if "leave" in args.tests else 0,
            args.latency_sockets,
        )
        + 1024
    )
    nofile = raise_nofile(needed)  # before the notifier starts: it inherits the limit
    if nofile < needed:
        print(f"warning: open-files limit {nofile} < {needed}: the notifier may refuse sockets")
    if args.pin:
        others = set(range(1, os.cpu_count() or 1)) or {0}
        os.sched_setaffinity(0, others)  # this process and the clients it spawns; the notifier gets CPU 0
    results: dict[str, Any] = {
        "run_id": args.run_id,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "open_files_limit": nofile,
        "load_average_at_start": os.getloadavg(),
        "connect": [],
        "tests": {},
    }
    if args.wait_quiet:
        results["waited_for_quiet_seconds"] = wait_quiet(args.wait_quiet)
    with system_under_test(args) as target:
        host = urlsplit(target.notifier_url).hostname or "127.0.0.1"
        port = urlsplit(target.notifier_url).port or 80
        results["target"] = {"notifier_url": target.notifier_url, "started_here": target.started_here, **target.info}
        print(f"notifier {target.notifier_url} (pid {target.notifier_pid}), redis {target.redis_url}")
        pool = ClientPool(args.workers, host, port, target.token_secret, args.token_ttl, args.run_id, args.deflate)
        try:
            pool.call("status", timeout=60)
            bench = Bench(args, target, pool)
            for test in args.tests:
                if test == "latency":
                    results["connect"].append(bench.connect(args.latency_sockets))
                    print(f"latency: {args.latency_sockets} sockets, {args.rate}/s for {args.duration} s ...")
                    name = f"latency@{args.latency_sockets}"
                    if name in results["tests"]:  # --tests latency,latency: the second one runs warm
                        name += f" #{sum(1 for n in results['tests'] if n.startswith(name)) + 1}"
                    results["tests"][name] = bench.latency(args.latency_sockets)
                    _print_brief(name, results["tests"][name])
                elif test == "leave":
                    results["connect"].append(bench.connect(args.leave_sockets))
                    print(
                        f"leave: {args.leave_sockets} sockets, decisions at {args.rate}/s to half of them, the other"
                        f" half leaving at once after {args.leave_after} s ..."
                    )
                    results["tests"][f"leave@{args.leave_sockets}"] = bench.leave(args.leave_sockets)
                    _print_brief(f"leave@{args.leave_sockets}", results["tests"][f"leave@{args.leave_sockets}"])
                else:
                    results["connect"].append(bench.connect(args.fanout_sockets))
                    print(f"fanout: {args.fanout_sockets} sockets, one decision each, {args.batch} per message ...")
                    for round_ in range(1, args.fanout_rounds + 1):
                        name = f"fanout@{args.fanout_sockets}" + (f" #{round_}" if args.fanout_rounds > 1 else "")
                        results["tests"][name] = bench.fanout(args.fanout_sockets)
                        _print_brief(name, results["tests"][name])
            if args.disconnect_timeout > 0 and pool.connected:
                results["mass_disconnect"] = bench.mass_disconnect(args.disconnect_timeout)
        finally:
            pool.close()
    results["connect"] = [c for c in results["connect"] if c]
    print_table(results)
    out = args.output or RESULTS_DIR / f"notifier_scale-{time.strftime('%Y%m%d-%H%M%S')}-{args.run_id}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
