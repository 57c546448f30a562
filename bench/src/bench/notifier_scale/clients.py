"""The client side of the notifier benchmark: --workers processes holding the sockets, and the pool that drives
them from the parent.

The sockets are spread over the processes in contiguous blocks (see connect_up_to). Each process runs one uvloop
loop and holds its sockets as bench/sio.py connections, with no task per socket. Every `order` event is noted as (socket
index, order id, wall-clock time it was read): the parent compares it with the wall-clock time it published the
decision at.
"""

import asyncio
import contextlib
import multiprocessing as mp
import os
import resource
import signal
import time
from collections import Counter
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import uvloop

from bench.sio import BuyerConnection, SocketRefused
from bench.stats import percentiles
from bench.system import raise_fd_limit
from firstin_contracts import issue_buyer_token


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
        self.sockets: dict[int, BuyerConnection] = {}
        # (socket index, order id, receipt time) per `order` event since the last reset
        self.events: list[tuple[int, str, float]] = []
        self.other_events = 0
        # What sockets no longer held counted: closed by the server after they were connected, frames inflated.
        self.gone_lost = 0
        self.gone_compressed = 0

    def _on_event(self, conn: BuyerConnection, now: float, name: str, payload: Any) -> None:
        if name == "order" and isinstance(payload, dict):
            self.events.append((conn.buyer, str(payload.get("order_id")), now))
        else:
            self.other_events += 1

    async def connect(self, indices: list[int], concurrency: int, timeout: float) -> dict[str, Any]:
        cfg = self.config
        url = f"http://{cfg.host}:{cfg.port}"
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
                socket = BuyerConnection(index, self._on_event, clock=time.time, deflate=cfg.deflate)
                started = time.time()
                try:
                    await socket.connect(url, token, timeout)
                except (OSError, TimeoutError, SocketRefused) as exc:
                    failures[f"{type(exc).__name__}: {str(exc)[:120]}"] += 1
                    return
                assert socket.connected_at is not None
                self.sockets[index] = socket
                durations.append(socket.connected_at - started)

        await asyncio.gather(*(one(i) for i in indices))
        return {"connected": len(durations), "durations": durations, "failures": dict(failures)}

    def _leave(self, index: int) -> None:
        socket = self.sockets.pop(index)
        self.gone_lost += socket.closed_by_server
        self.gone_compressed += socket.compressed_frames
        socket.close_now()

    def lost(self) -> int:
        return self.gone_lost + sum(s.closed_by_server for s in self.sockets.values())

    def open_sockets(self) -> int:
        return sum(1 for s in self.sockets.values() if s.connected)

    async def serve(self, conn: Connection) -> None:
        loop = asyncio.get_running_loop()
        while True:
            command, arg = await loop.run_in_executor(None, conn.recv)
            reply: Any = None
            if command == "connect":
                reply = await self.connect(**arg)
            elif command == "reset":
                self.events = []
                self.other_events = 0
            elif command == "count":
                reply = len(self.events)
            elif command == "collect":
                reply = {
                    "events": self.events,
                    "other_events": self.other_events,
                    "open": self.open_sockets(),
                    "lost": self.lost(),
                    "compressed_frames": self.gone_compressed + sum(s.compressed_frames for s in self.sockets.values()),
                }
            elif command == "status":
                reply = {"open": self.open_sockets(), "lost": self.lost(), "pid": os.getpid()}
            elif command == "disconnect":
                for index in list(self.sockets):
                    self._leave(index)
            elif command == "disconnect_from":  # the sockets with an index >= arg leave, the others stay
                for index in [i for i in self.sockets if i >= arg]:
                    self._leave(index)
            elif command == "close":
                for s in self.sockets.values():
                    s.close_now()
                await asyncio.sleep(0.2)
                conn.send(None)
                return
            conn.send(reply)


def _worker_main(conn: Connection, config: _WorkerConfig) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which closes us in order
    raise_fd_limit(config.nofile)
    uvloop.run(_Worker(config).serve(conn))


class ClientPool:
    """--workers client processes, driven over one pipe each: every command goes to all of them, and each answers."""

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
            "connect_ms": percentiles([d * 1000 for d in durations], scale=1, digits=2),
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
