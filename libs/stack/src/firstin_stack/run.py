"""`make run`: a private Redis (or REDIS_URL), the default product, and the three services, until Ctrl-C."""

import os
import signal
import sys
import threading

import httpx

from firstin_stack.redis_server import RedisServer
from firstin_stack.services import Stack, StackConfig

DEFAULT_SKU = "default"
DEFAULT_STOCK = 5  # as in the tutorial


def main() -> int:
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
        api_port=int(os.environ.get("FIRSTIN_API_PORT", "8000")),
        notifier_port=int(os.environ.get("FIRSTIN_NOTIFIER_PORT", "8001")),
        processor_port=int(os.environ.get("FIRSTIN_PROCESSOR_PORT", "8002")),
        api_workers=int(os.environ.get("FIRSTIN_API_WORKERS", "2")),
        admin_token=os.environ.get("FIRSTIN_ADMIN_TOKEN", StackConfig.admin_token),
        rate_limits=True,
    )
    stack = Stack(config)
    stop = threading.Event()
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
            f"  api docs      {stack.api_url}/docs\n"
            f"  notifier      {stack.notifier_url}  (Socket.IO, path /socket.io)\n"
            f"  pages allowed {', '.join(config.page_origins)}  (FIRSTIN_CORS_ALLOWED_ORIGINS adds yours)\n"
            f"  processor     {stack.processor.url}/metrics\n"
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
                    stop.set()
    finally:
        print("\nstopping…", flush=True)
        stack.stop()
        if redis_server:
            redis_server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
