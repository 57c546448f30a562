"""The live admin page in a real browser: it asks for the token, then follows the sale without a reload."""

import re

from playwright.async_api import Browser, expect

from firstin_stack import FirstinClient, unique_email, unique_sku

UI_TIMEOUT_MS = 10_000


async def test_admin_page_follows_a_sale_live(browser: Browser, firstin: FirstinClient, tmp_path) -> None:
    sku = unique_sku("admin-page")
    await firstin.create_product(sku, stock=3)
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{firstin.api_url}/admin")
    await page.fill("#token", firstin.admin_token)
    await page.click("button[type=submit]")
    row = page.locator(f'tr[data-sku="{sku}"]')
    await expect(page.locator("#state")).to_have_text("Live.", timeout=UI_TIMEOUT_MS)
    await expect(row.locator("td").nth(1)).to_have_text("3", timeout=UI_TIMEOUT_MS)

    for _ in range(5):
        await firstin.place_order(unique_email(), sku)

    await expect(row.locator("td").nth(1)).to_have_text("0", timeout=UI_TIMEOUT_MS)  # stock left
    await expect(row.locator("td").nth(7)).to_have_text("yes", timeout=UI_TIMEOUT_MS)  # sold out
    await expect(row.locator("td").nth(5)).to_have_text(re.compile(r"^[3-5]$"), timeout=UI_TIMEOUT_MS)  # decided
    await page.screenshot(path=str(tmp_path / "admin.png"), full_page=True)
    await context.close()
