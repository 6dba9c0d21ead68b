"""A real headless Chromium: sign in, add an item in one tab, watch it appear in another.

This drives the page's JavaScript client, the session cookie, the XSRF header on a
cookie-authenticated API write, the CSP (an inline-script violation would break the page)
and the live WebSocket feed end to end. Screenshots land in ``test-artifacts/``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright

from tests.mongo import SecantusServer
from tests.service.harness import ADMIN, ADMIN_PASSWORD, LiveService, live_service
from tests.tools import require_tool

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "browser"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
HOSTILE_NAME = "<img src=x onerror=\"document.title='pwned'\"> kettle"


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    executable = require_tool("chromium", install="make tools (apt-get install chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        await browser.close()


@pytest.fixture
async def live(mongo_server: SecantusServer) -> AsyncIterator[LiveService]:
    async with live_service(mongo_server.uri) as service:
        yield service


def watch_for_csp_violations(page: Page, problems: list[str]) -> None:
    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", on_console)


async def test_an_item_added_in_one_tab_appears_live_in_another(
    chromium: Browser, live: LiveService
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = await chromium.new_context(locale="en-US")
    problems: list[str] = []
    first = await context.new_page()
    watch_for_csp_violations(first, problems)

    await first.goto(live.base_url + "/")
    assert first.url.endswith("/login?next=/")
    await first.fill("input[name=username]", ADMIN)
    await first.fill("input[name=password]", ADMIN_PASSWORD)
    await first.click("form.login button[type=submit]")
    await first.wait_for_url(live.base_url + "/")
    await first.locator("#live-status[data-state=live]").wait_for()
    await first.screenshot(path=str(ARTIFACTS / "1-first-tab-signed-in.png"))

    second = await context.new_page()  # same browser session: shares the cookie
    watch_for_csp_violations(second, problems)
    await second.goto(live.base_url + "/")
    await second.locator("#live-status[data-state=live]").wait_for()
    assert await second.locator("li.item-row").count() == 0

    await first.fill("#new-item input[name=name]", HOSTILE_NAME)
    await first.fill("#new-item input[name=tags]", "kitchen, blue")
    await first.click("#new-item button[type=submit]")

    row = second.locator("li.item-row").first
    await row.wait_for(timeout=10_000)
    assert await row.locator(".item-name").inner_text() == HOSTILE_NAME
    assert await row.locator(".tag").all_inner_texts() == ["kitchen", "blue"]
    assert await second.title() != "pwned"
    await second.screenshot(path=str(ARTIFACTS / "2-second-tab-live-update.png"))

    await row.locator(".item-name").click()
    await second.wait_for_url(f"{live.base_url}/items/*")
    assert await second.locator("h1").inner_text() == HOSTILE_NAME
    await second.screenshot(path=str(ARTIFACTS / "3-item-page.png"))

    # The server drops every socket (as a restarting replica would); the client reconnects
    # with backoff and resumes, so writes made meanwhile still arrive, in order.
    await first.locator("#live-status[data-state=live]").wait_for()
    hub = live.services.feed.hub
    for subscription in list(hub.subscriptions):
        hub.drop(subscription, 1012, "service restart")
    await first.locator("#live-status[data-state=reconnecting]").wait_for()
    for name in ("while away", "renamed later"):
        created = await live.fetch("/api/v1/items", method="POST", json_body={"name": name})
        assert created.code == 201
    renamed = created.headers["Location"]
    assert (await live.fetch(renamed, method="PUT", json_body={"name": "renamed"})).code == 200
    names = first.locator("li.item-row .item-name")
    await first.locator("li.item-row .item-name", has_text="renamed").wait_for(timeout=10_000)
    assert await names.all_inner_texts() == ["renamed", "while away", HOSTILE_NAME]
    assert (await live.fetch(renamed, method="DELETE")).code == 204
    await first.locator("li.item-row", has_text="renamed").wait_for(state="detached")
    await first.screenshot(path=str(ARTIFACTS / "4-after-reconnect.png"))

    listing = await live.fetch("/api/v1/items")
    assert listing.code == 200
    stored, _ = json.loads(listing.body)["items"]
    assert (stored["name"], stored["owner"], stored["tags"]) == (
        HOSTILE_NAME,
        ADMIN,
        ["kitchen", "blue"],
    )
    assert problems == []
    await context.close()


async def test_the_page_follows_the_browser_language(chromium: Browser, live: LiveService) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = await chromium.new_context(locale="de-DE")
    page = await context.new_page()
    await page.goto(live.base_url + "/login")
    assert await page.locator("h1").inner_text() == "Anmelden"
    await page.fill("input[name=username]", ADMIN)
    await page.fill("input[name=password]", ADMIN_PASSWORD)
    await page.click("form.login button[type=submit]")
    await page.wait_for_url(live.base_url + "/")
    assert await page.locator("h1").inner_text() == "Deine Einträge"
    await page.locator("#live-status[data-state=live]").wait_for()
    assert await page.locator("#live-status").inner_text() == "Live"
    await page.screenshot(path=str(ARTIFACTS / "5-german.png"))
    await context.close()
