import functools
from typing import Any

from firstin_serving.http_protocol import GuardedHttpToolsProtocol
from firstin_serving.settings import ServingSettings


def uvicorn_options(
    settings: ServingSettings, protocol: type[GuardedHttpToolsProtocol] = GuardedHttpToolsProtocol
) -> dict[str, Any]:
    """What uvicorn needs to serve with `settings`' limits, timeouts and trusted proxies; a `partial` of a
    module-level class, so that uvicorn can hand it to worker processes."""
    return {
        "http": functools.partial(protocol, limits=settings.http_limits()),
        "timeout_keep_alive": settings.http_keep_alive_seconds,
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": settings.trusted_proxies,
    }
