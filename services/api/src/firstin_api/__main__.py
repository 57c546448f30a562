"""`python -m firstin_api`: run the api under uvicorn with FIRSTIN_API_WORKERS processes."""

import os
import tempfile

import uvicorn

from firstin_api.http_protocol import CoalescingHttpToolsProtocol
from firstin_api.settings import get_settings
from firstin_serving import GuardedHttpToolsProtocol, logging_config, uvicorn_options


def main() -> None:
    settings = get_settings()
    if settings.api_workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Each worker is a process: let /metrics add up every worker's counters.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="firstin-api-metrics-")
    uvicorn.run(
        "firstin_api.main:create_app",
        factory=True,
        host=settings.api_host,
        port=settings.api_port,
        workers=settings.api_workers,
        log_config=logging_config("api", settings.log_level),
        timeout_graceful_shutdown=10,
        **uvicorn_options(
            settings,
            protocol=CoalescingHttpToolsProtocol if settings.http_coalesce_responses else GuardedHttpToolsProtocol,
        ),
    )


if __name__ == "__main__":
    main()
