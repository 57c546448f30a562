"""The system under test: started here as `make run` starts it (a private redis-server and the three services
via firstin_stack), or a running one reached by URL."""

import contextlib
import os
import resource
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from firstin_serving import DEV_ADMIN_TOKEN
from firstin_stack import RedisServer, Stack, StackConfig

BENCH_ENV = {"FIRSTIN_RATE_LIMIT_PER_IP": "0"}


@dataclass
class Target:
    api_url: str
    notifier_url: str
    admin_token: str
    token_secret: str | None  # None: buyers' tokens come from their first 202
    redis_url: str | None  # None: no Redis-side audit or sampling
    api_workers: int | None = None
    # Every notifier replica's URL, the first being notifier_url. Buyers are spread among them as a load balancer
    # in front of the replicas would (each replica serves its own sockets: no sticky sessions with websockets).
    notifier_urls: list[str] = field(default_factory=list)
    stack: Stack | None = None
    started_here: bool = False
    redis_pid: int | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def cpu_names(self) -> dict[str, int]:
        """Processes whose CPU is worth reporting apart."""
        names = self.pids()
        if self.redis_pid:
            names["redis-server"] = self.redis_pid
        return names

    def pids(self) -> dict[str, int]:
        if self.stack is None:
            return {}
        services = [*self.stack.services, *self.stack.replicas]
        return {s.name: s.pid for s in services if s.process is not None}

    def create_product(self, sku: str, stock: int) -> dict[str, Any]:
        response = httpx.put(
            f"{self.api_url}/admin/products/{sku}",
            json={"stock": stock, "per_customer_limit": None},
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=10,
        )
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def session_ttl(self) -> int:
        """Seconds a buyer token from this api lasts (POST /sessions says)."""
        response = httpx.post(f"{self.api_url}/sessions", json={"email": "bench-session@example.com"}, timeout=10)
        response.raise_for_status()
        return int(response.json()["expires_in"])

    def describe(self) -> dict[str, Any]:
        return {
            "started_here": self.started_here,
            "api_url": self.api_url,
            "notifier_url": self.notifier_url,
            "notifier_replicas": len(self.notifier_urls) or 1,
            "api_workers": self.api_workers,
            "tokens": "signed with the stack's token secret" if self.token_secret else "from each buyer's first 202",
            "redis_audit": self.redis_url is not None,
            **self.info,
        }


def raise_fd_limit(wanted: int | None = None) -> int:
    """Sockets are file descriptors: raise our soft limit towards `wanted` (default: as far as it goes), never past
    the hard one; returns the new soft limit. Processes started afterwards (the services) inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return soft
    target = hard if wanted is None or (hard != resource.RLIM_INFINITY and wanted > hard) else wanted
    if target == resource.RLIM_INFINITY or target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


@contextlib.contextmanager
def system(
    *,
    api_url: str | None,
    notifier_url: str | None,
    redis_url: str | None,
    admin_token: str | None,
    token_secret: str | None,
    api_workers: int,
    notifiers: int,
    log_level: str,
    extra_env: dict[str, str],
    log: Any = print,
) -> Iterator[Target]:
    raise_fd_limit()
    if api_url:
        if not notifier_url:
            raise SystemExit("--api-url needs --notifier-url too")
        yield Target(
            api_url=api_url.rstrip("/"),
            notifier_url=notifier_url.rstrip("/"),
            admin_token=admin_token or os.environ.get("FIRSTIN_ADMIN_TOKEN", DEV_ADMIN_TOKEN),
            token_secret=token_secret,
            redis_url=redis_url,
        )
        return
    # Every request of the benchmark comes from 127.0.0.1: a per-IP rate limit (where the api has one) would
    # turn the load into 429s, so it is off unless --env sets it. Unknown settings are ignored by the services.
    extra_env = {**BENCH_ENV, **extra_env}
    server = RedisServer().start()
    config = StackConfig(redis_url=server.url, api_workers=api_workers, log_level=log_level, extra_env=extra_env)
    if token_secret:
        config.token_secret = token_secret
    stack = Stack(config)
    try:
        log(
            f"starting redis-server ({server.binary}), api ({api_workers} workers), processor, {notifiers} notifier(s)…"
        )
        stack.start()
        replicas = [stack.add_notifier(f"notifier-{i + 2}") for i in range(notifiers - 1)]
        for replica in replicas:
            replica.wait_ready()
        yield Target(
            api_url=stack.api_url,
            notifier_url=stack.notifier_url,
            notifier_urls=[stack.notifier_url, *(r.url for r in replicas)],
            admin_token=config.admin_token,
            token_secret=config.token_secret,
            redis_url=server.url,
            api_workers=api_workers,
            stack=stack,
            started_here=True,
            info={"service_logs": str(config.log_dir), "log_level": log_level, "extra_env": extra_env},
            redis_pid=server.process.pid if server.process else None,
        )
    finally:
        stack.stop()
        server.stop()
