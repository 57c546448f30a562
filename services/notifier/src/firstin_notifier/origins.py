"""Which web pages may open a socket, and a refusal that says how to allow one.

engine.io checks a socket's `Origin` against `cors_allowed_origins` before anything else; a browser refused there
learns only "websocket error" (or "xhr poll error"), and engine.io itself logs the first refusal of a process once,
without the setting's name. Given a callable instead of a list (python-socketio's documented extension point), the
check is ours: each refusal is a WARNING naming the origin and the setting that lists origins, at most one line a
second whatever a crowd of unlisted pages sends.
"""

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from firstin_serving.logs import ThrottledWarnings

log = logging.getLogger("firstin.notifier")

SETTING = "FIRSTIN_CORS_ALLOWED_ORIGINS"

# engine.io's own line for the same refusal (engineio/async_server.py), dropped by the notifier's log config since
# ours says more.
ENGINEIO_REFUSAL = "is not an accepted origin."

_TOLD = "firstin.origin_refusal_logged"


class PageOrigins:
    """`cors_allowed_origins` for python-socketio: True for a listed origin (or any, with `*`)."""

    def __init__(self, allowed: Iterable[str], *, clock: Callable[[], float] = time.monotonic):
        self._allowed = frozenset(allowed)
        self._any = "*" in self._allowed
        self._clock = clock
        self._refusals = ThrottledWarnings(log)

    def __call__(self, origin: str | None, environ: dict[str, Any] | None = None) -> bool:
        if origin is None:  # not a browser's request: engine.io asks only to decide on CORS response headers
            return False
        if self._any or origin in self._allowed:
            return True
        if environ is not None:
            # engine.io asks twice about a refused request (the refusal, then its response's CORS headers).
            if environ.get(_TOLD):
                return False
            environ[_TOLD] = True
        self._refusals.warning(
            self._clock(),
            "socket refused: origin %s is not in %s (%s); add it to let its pages connect",
            origin[:200],
            SETTING,
            ",".join(sorted(self._allowed)) or "empty",
        )
        return False
