"""`python -m firstin_notifier`: run the Socket.IO notifier under uvicorn."""

import uvicorn

from firstin_notifier.logs import logging_config
from firstin_notifier.settings import get_settings


def main() -> None:
    settings = get_settings()
    uvicorn.run(
        "firstin_notifier.main:create_app",
        factory=True,
        host=settings.notifier_host,
        port=settings.notifier_port,
        log_config=logging_config(settings.log_level),
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
