"""/docs and /asyncapi in a real browser that reaches nothing but the stack, as offline: each page draws its UI,
and nothing it runs breaks the api's Content-Security-Policy."""

from urllib.parse import urlsplit

from playwright.async_api import Browser, Page, Route, expect

from firstin_stack import Stack

UI_TIMEOUT_MS = 15_000


async def offline_page(browser: Browser, stack: Stack, problems: list[str]) -> Page:
    """A page whose requests to anything but the stack's own services fail, as they would offline."""
    ours = {urlsplit(service.url).netloc for service in stack.services}
    page = await browser.new_page()

    async def only_the_stack(route: Route) -> None:
        if urlsplit(route.request.url).netloc in ours:
            await route.continue_()
        else:
            problems.append(f"fetched from elsewhere: {route.request.url}")
            await route.abort()

    await page.route("**/*", only_the_stack)
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return page


async def test_swagger_ui_draws_the_api_offline(browser: Browser, firstin_stack: Stack) -> None:
    problems: list[str] = []
    page = await offline_page(browser, firstin_stack, problems)
    await page.goto(f"{firstin_stack.api_url}/docs")
    operation = page.locator(".opblock-summary-path", has_text="/orders").first
    await expect(operation).to_be_visible(timeout=UI_TIMEOUT_MS)
    assert not problems, problems


async def test_the_asyncapi_page_draws_the_processor_offline(browser: Browser, firstin_stack: Stack) -> None:
    problems: list[str] = []
    page = await offline_page(browser, firstin_stack, problems)
    await page.goto(f"{firstin_stack.processor.url}/asyncapi")
    await expect(page.get_by_text("firstin:wake", exact=True).filter(visible=True).first).to_be_visible(
        timeout=UI_TIMEOUT_MS
    )
    # FastStream's page names asyncapi.com's icons (no setting changes them), whose loads fail; nothing else may.
    icons = [p for p in problems if "www.asyncapi.com/favicon" in p or p == "Failed to load resource: net::ERR_FAILED"]
    assert len(icons) == len(problems), problems
