"""`make run`: a private Redis (or REDIS_URL), the default product, and the three services, until Ctrl-C."""

import os
import signal
import socket
import sys
import threading

import httpx

from firstin_stack.redis_server import RedisServer
from firstin_stack.services import Stack, StackConfig

DEFAULT_SKU = "default"
DEFAULT_STOCK = 5  # as in the tutorial
PORT_SETTINGS = {"api": "FIRSTIN_API_PORT", "notifier": "FIRSTIN_NOTIFIER_PORT", "processor": "FIRSTIN_PROCESSOR_PORT"}
DEFAULT_PORTS = {"api": 8000, "notifier": 8001, "processor": 8002}


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as probe:
        # As uvicorn binds: a port that only has connections closing (TIME_WAIT) is free, a listener is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def busy_ports_message(host: str, ports: dict[str, int]) -> str | None:
    """Why this run cannot start, or None. Checked before anything starts: a service that cannot bind its port
    would otherwise find the other run's service answering its readiness check, and this run would set up the
    other run's product."""
    busy = [name for name, port in ports.items() if port_in_use(host, port)]
    if not busy:
        return None
    lines = [f"firstin cannot start: {'a port it needs is' if len(busy) == 1 else 'ports it needs are'} in use."]
    lines += [f"  port {ports[name]} on {host} ({name}): set {PORT_SETTINGS[name]} to move it" for name in busy]
    lines.append("Another `make run` may be running: stop it first, or start this one on other ports.")
    return "\n".join(lines)


def main() -> int:
    ports = {name: int(os.environ.get(PORT_SETTINGS[name], default)) for name, default in DEFAULT_PORTS.items()}
    if refusal := busy_ports_message(StackConfig.host, ports):
        print(refusal, file=sys.stderr)
        return 1

    redis_server: RedisServer | None = None
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        redis_server = RedisServer().start()
        redis_url = redis_server.url
        print(f"redis      {redis_url}  (private, {redis_server.binary})")
    else:
        print(f"redis      {redis_url}  (from REDIS_URL)")

    config = StackConfig(
        redis_url=redis_url,
        api_port=ports["api"],
        notifier_port=ports["notifier"],
        processor_port=ports["processor"],
        api_workers=int(os.environ.get("FIRSTIN_API_WORKERS", "2")),
        admin_token=os.environ.get("FIRSTIN_ADMIN_TOKEN", StackConfig.admin_token),
        rate_limits=True,
    )
    stack = Stack(config)
    stop = threading.Event()
    exit_code = 0
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        stack.start()
        httpx.put(
            f"{stack.api_url}/admin/products/{DEFAULT_SKU}",
            json={"stock": DEFAULT_STOCK, "per_customer_limit": None},
            headers={"Authorization": f"Bearer {config.admin_token}"},
        ).raise_for_status()
        print(
            f"\nfirstin is running\n"
            f"  demo page     {stack.api_url}/\n"
            f"  admin page    {stack.api_url}/admin   (asks for the admin token below)\n"
            f"  api docs      {stack.api_url}/docs\n"
            f"  notifier      {stack.notifier_url}  (Socket.IO, path /socket.io)\n"
            f"  pages allowed {', '.join(config.page_origins)}  (FIRSTIN_CORS_ALLOWED_ORIGINS adds yours)\n"
            f"  processor     {stack.processor.url}/asyncapi  (AsyncAPI; metrics at /metrics)\n"
            f"  admin token   {config.admin_token}   (dev only)\n"
            f"  product       '{DEFAULT_SKU}' with stock {DEFAULT_STOCK}\n"
            f"  logs          {config.log_dir}\n"
            f"\nPress Ctrl-C to stop.",
            flush=True,
        )
        while not stop.wait(0.5):
            for service in stack.services:
                if service.process and service.process.poll() is not None:
                    print(f"{service.name} exited; its log:\n{service.tail_log()}", file=sys.stderr)
                    exit_code = 1
                    stop.set()
    finally:
        print("\nstopping…", flush=True)
        stack.stop()
        if redis_server:
            redis_server.stop()
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
