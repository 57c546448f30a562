"""The AsyncAPI page at /asyncapi, with its UI served by the processor itself.

FastStream's page loads @asyncapi/react-component from a CDN by default, which leaves it blank offline. asyncapi_ui/
holds that component's browser bundle and stylesheet as published on npm (version 3.1.5, the one FastStream 0.7's
page names: browser/standalone/index.js, styles/default.min.css), with its licence (Apache-2.0, LICENSE) and the
notices of what it bundles (index.js.LICENSE.txt).
"""

from importlib.resources import files
from typing import Any

from faststream.asgi import AsgiResponse, AsyncAPIRoute, get
from faststream.asgi.handlers import GetHandler

ASSETS = files("firstin_processor").joinpath("asyncapi_ui")
SCRIPT_URL = "/asyncapi/ui/index.js"
STYLESHEET_URL = "/asyncapi/ui/default.min.css"


def asyncapi_route() -> AsyncAPIRoute:
    return AsyncAPIRoute(
        "/asyncapi",
        asyncapi_js_url=SCRIPT_URL,
        asyncapi_css_url=STYLESHEET_URL,
        # No "try it out": its endpoint publishes whatever a visitor sends to any channel of the broker's Redis.
        try_it_out_path=None,
    )


def asset_routes() -> list[tuple[str, GetHandler]]:
    return [
        (SCRIPT_URL, _asset("index.js", "text/javascript")),
        (STYLESHEET_URL, _asset("default.min.css", "text/css")),
    ]


def _asset(name: str, content_type: str) -> GetHandler:
    body = ASSETS.joinpath(name).read_bytes()

    @get(include_in_schema=False)
    async def serve(scope: Any) -> AsgiResponse:
        return AsgiResponse(body, 200, {"Content-Type": f"{content_type}; charset=utf-8"})

    return serve
