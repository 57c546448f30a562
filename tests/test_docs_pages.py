"""The api's /docs (Swagger UI) and the processor's /asyncapi page load their UI from the service itself, so they
work offline: every script and stylesheet they name is served by the same process, and /docs runs no inline script
(the api's Content-Security-Policy would refuse it). tests/browser/test_docs_pages.py renders both with every other
origin cut off."""

from html.parser import HTMLParser

import httpx

from firstin_stack import Stack

JAVASCRIPT = ("text/javascript", "application/javascript")
CSS = ("text/css",)


class Assets(HTMLParser):
    """What a page makes the browser fetch: scripts, stylesheets and icons, and the scripts written inline."""

    def __init__(self, html: str):
        super().__init__()
        self.scripts: list[str] = []
        self.stylesheets: list[str] = []
        self.icons: list[str] = []
        self.inline_scripts = 0
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script":
            if src := attributes.get("src"):
                self.scripts.append(src)
            else:
                self.inline_scripts += 1
        elif tag == "link" and attributes.get("href"):
            rel = attributes.get("rel") or ""
            (self.stylesheets if rel == "stylesheet" else self.icons).append(str(attributes["href"]))


def is_local(url: str) -> bool:
    return url.startswith("/") and not url.startswith("//")


def assert_served(base_url: str, paths: list[str], content_types: tuple[str, ...]) -> None:
    for path in paths:
        answer = httpx.get(f"{base_url}{path}")
        assert answer.status_code == 200, path
        assert answer.headers["content-type"].startswith(content_types), (path, answer.headers["content-type"])
        assert answer.content, f"{path} is empty"


def test_docs_page_loads_swagger_ui_from_the_api_alone(firstin_stack: Stack) -> None:
    page = httpx.get(f"{firstin_stack.api_url}/docs")
    assert page.status_code == 200
    assets = Assets(page.text)

    assert assets.scripts and assets.stylesheets
    external = [url for url in assets.scripts + assets.stylesheets + assets.icons if not is_local(url)]
    assert not external, f"/docs loads {external} from elsewhere"
    assert assets.inline_scripts == 0, "the api's pages may run script from files only (script-src 'self')"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert_served(firstin_stack.api_url, assets.scripts, JAVASCRIPT)
    assert_served(firstin_stack.api_url, assets.stylesheets, CSS)
    assert "/openapi.json" in httpx.get(f"{firstin_stack.api_url}/static/docs.js").text
    assert httpx.get(f"{firstin_stack.api_url}/openapi.json").status_code == 200


def test_asyncapi_page_loads_its_ui_from_the_processor_alone(firstin_stack: Stack) -> None:
    page = httpx.get(f"{firstin_stack.processor.url}/asyncapi")
    assert page.status_code == 200
    assets = Assets(page.text)

    assert assets.scripts and assets.stylesheets
    external = [url for url in assets.scripts + assets.stylesheets if not is_local(url)]
    assert not external, f"/asyncapi loads {external} from elsewhere"
    # FastStream's page names asyncapi.com's icons, with no setting to change them: a missing icon leaves the page
    # as it is. Anything else from elsewhere fails above.
    assert all(url.startswith("https://www.asyncapi.com/favicon") for url in assets.icons if not is_local(url))
    assert_served(firstin_stack.processor.url, assets.scripts, JAVASCRIPT)
    assert_served(firstin_stack.processor.url, assets.stylesheets, CSS)


def test_the_asyncapi_page_cannot_publish_to_redis(firstin_stack: Stack) -> None:
    # FastStream's "try it out" endpoint would publish what a visitor sends to any channel of the processor's Redis.
    body = {"channelName": "firstin:wake", "message": {"message": {}}, "options": {"sendToRealBroker": True}}
    answer = httpx.post(f"{firstin_stack.processor.url}/asyncapi/try", json=body)
    assert answer.status_code == 404
