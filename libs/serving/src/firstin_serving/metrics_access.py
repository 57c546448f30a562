"""`/metrics` for the cluster's scrapers only.

Metrics say how a sale goes (stock left, queue lengths, traffic): nothing a buyer needs, much a competitor would
like. They are served to direct connections from the allowed networks (by default loopback and the private
ranges pods and scrapers live in) and to nobody else: a request that came through a reverse proxy carries
`X-Forwarded-For` or `Forwarded`, and with the proxy not listed in FIRSTIN_TRUSTED_PROXIES it would otherwise
look like it came from the proxy's own, private, address. Refused requests get `404`, as for a path that
does not exist.
"""

import ipaddress
from collections.abc import Sequence

from firstin_serving.asgi import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_PROXIED = (b"x-forwarded-for", b"forwarded")


class ClusterOnly:
    def __init__(self, app: ASGIApp, allowed_networks: Sequence[str]):
        self.app = app
        self.allowed: list[Network] = [ipaddress.ip_network(n, strict=False) for n in allowed_networks]

    def allows(self, scope: Scope) -> bool:
        client = scope.get("client")
        if client is None or any(name in _PROXIED for name, _ in scope.get("headers", ())):
            return False
        try:
            address = ipaddress.ip_address(client[0])
        except ValueError:  # a unix socket's peer, say
            return False
        return any(address in network for network in self.allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.allows(scope):
            await self.app(scope, receive, send)
            return
        body = b'{"detail":"Not Found"}'
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 404, "headers": headers})
        await send({"type": "http.response.body", "body": body})
