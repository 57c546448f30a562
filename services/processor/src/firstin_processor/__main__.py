"""`python -m firstin_processor`: run the processor with its health and metrics port."""

import uvicorn

from firstin_processor.settings import get_settings
from firstin_serving import logging_config, uvicorn_options


def main() -> None:
    settings = get_settings()
    uvicorn.run(
        "firstin_processor.main:create_app",
        factory=True,
        host=settings.processor_host,
        port=settings.processor_port,
        log_config=logging_config("processor", settings.log_level),
        # SIGTERM: uvicorn stops accepting, then runs the app's shutdown (the batch in hand completes).
        timeout_graceful_shutdown=10,
        **uvicorn_options(settings),
    )


if __name__ == "__main__":
    main()
