"""Headers that keep the api's pages (the demo page, the admin page) from being framed, sniffed or made to run
script from elsewhere. The pages load their scripts from /static and talk to this api and the notifier only."""

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def content_security_policy(notifier_public_url: str) -> str:
    notifier = urlsplit(notifier_public_url)
    websocket = "wss" if notifier.scheme == "https" else "ws"
    origin = f"{notifier.scheme}://{notifier.netloc}"
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",  # each page's own <style> block; no inline script anywhere
            "img-src 'self' data:",
            f"connect-src 'self' {origin} {websocket}://{notifier.netloc}",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, notifier_public_url: str):
        self.app = app
        self.every_response = [(b"x-content-type-options", b"nosniff")]
        self.pages = [
            (b"content-security-policy", content_security_policy(notifier_public_url).encode()),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                # The policy is for what a browser renders; JSON answers (the order path's included) get nosniff.
                extra = (
                    self.pages + self.every_response if content_type.startswith(b"text/html") else self.every_response
                )
                message = {**message, "headers": headers + extra}
            await send(message)

        await self.app(scope, receive, send_with_headers)
