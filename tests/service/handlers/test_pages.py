"""The browser pages: login, the live list, item pages, both languages, hostile names."""

from __future__ import annotations

import csv
import re
from collections.abc import AsyncIterator
from pathlib import Path

import gale_service
import pytest
from bson import ObjectId

from tests.mongo import SecantusServer
from tests.service.clients import Browser
from tests.service.harness import LiveService, live_service

PACKAGE = Path(gale_service.__file__).parent
HOSTILE = ['<script>alert("x")</script>', '"><img src=x onerror=alert(1)>', "Tom & Jerry's"]
GERMAN = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}
ENGLISH = {"Accept-Language": "en-US,en;q=0.9"}


@pytest.fixture
async def live(mongo_server: SecantusServer) -> AsyncIterator[LiveService]:
    async with live_service(mongo_server.uri) as service:
        yield service


@pytest.fixture
async def browser(live: LiveService) -> Browser:
    signed_in = Browser(live)
    assert (await signed_in.login()).code == 303
    return signed_in


async def create(live: LiveService, name: str) -> str:
    response = await live.fetch("/api/v1/items", method="POST", json_body={"name": name})
    assert response.code == 201
    return response.headers["Location"].rsplit("/", 1)[1]


async def test_anonymous_visitors_are_sent_to_login(live: LiveService) -> None:
    page = await Browser(live).fetch("/")
    assert page.code == 302
    assert page.headers["Location"] == "/login?next=/"
    login = await Browser(live).fetch("/login", headers=GERMAN)
    assert login.code == 200
    assert login.headers["Content-Type"].startswith("text/html")
    assert "<h1>Anmelden</h1>" in login.body.decode()
    assert '<html lang="de">' in login.body.decode()


@pytest.mark.parametrize(
    ("headers", "heading", "button"),
    [(ENGLISH, "Your items", "Add item"), (GERMAN, "Deine Einträge", "Eintrag hinzufügen")],
)
async def test_the_list_escapes_hostile_names_in_both_languages(
    live: LiveService, browser: Browser, headers: dict[str, str], heading: str, button: str
) -> None:
    for name in HOSTILE:
        await create(live, name)
    page = (await browser.fetch("/", headers=headers)).body.decode()
    assert f"<h1>{heading}</h1>" in page
    assert button in page
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "Tom &amp; Jerry&#x27;s" in page
    for hostile in HOSTILE:
        assert hostile not in page


@pytest.mark.parametrize(("headers", "label"), [(ENGLISH, "Owner"), (GERMAN, "Besitzer")])
async def test_item_page_escapes_and_translates(
    live: LiveService, browser: Browser, headers: dict[str, str], label: str
) -> None:
    item_id = await create(live, HOSTILE[0])
    page = await browser.fetch(f"/items/{item_id}", headers=headers)
    assert page.code == 200
    body = page.body.decode()
    assert f"<dt>{label}</dt>" in body
    assert "<title>&lt;script&gt;" in body
    assert "<script>alert" not in body


async def test_someone_elses_item_page_is_404(live: LiveService, browser: Browser) -> None:
    response = await live.fetch(
        "/api/v1/items",
        method="POST",
        json_body={"name": "private"},
        headers={"Authorization": f"Bearer {live.token_for('alice')}"},
    )
    item_id = response.headers["Location"].rsplit("/", 1)[1]
    carol = Browser(live)
    created = await live.fetch(
        "/api/v1/users",
        method="POST",
        json_body={"username": "carol", "password": "carol's long password"},
    )
    assert created.code == 201
    await carol.login("carol", "carol's long password")
    page = await carol.fetch(f"/items/{item_id}", headers=GERMAN)
    assert page.code == 404
    assert "Diese Seite gibt es nicht, oder sie gehört nicht dir." in page.body.decode()
    assert (await browser.fetch(f"/items/{item_id}")).code == 200  # the admin sees it


async def test_a_language_preference_beats_accept_language(
    live: LiveService, browser: Browser
) -> None:
    token = await browser.form_token("/")
    chosen = await browser.submit("/language", f"_xsrf={token}&lang=de&next=/")
    assert chosen.code == 303
    page = (await browser.fetch("/", headers=ENGLISH)).body.decode()
    assert "<h1>Deine Einträge</h1>" in page
    stored = await live.services.auth.users.get("admin")
    assert stored is not None
    assert stored["locale"] == "de_DE"


async def test_pages_load_only_hashed_nonce_carrying_assets(
    live: LiveService, browser: Browser
) -> None:
    response = await browser.fetch(
        "/", headers={"Accept-Encoding": "gzip"}, decompress_response=False
    )
    assert response.headers["Content-Encoding"] == "gzip"
    response = await browser.fetch("/")
    page = response.body.decode()
    nonce = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"])
    assert nonce
    scripts = re.findall(r"<script ([^>]*)>", page)
    assert scripts, "the page loads the live client"
    for attributes in scripts:
        assert re.search(r'src="/static/live\.js\?v=[0-9a-f]{32,}"', attributes)
        assert f'nonce="{nonce.group(1)}"' in attributes
    assert re.search(r'href="/static/app\.css\?v=[0-9a-f]{32,}"', page)
    assert "style=" not in page  # no inline styles for the CSP to refuse


def source_strings() -> set[str]:
    """Every string the templates and page handlers pass to the translator."""
    pattern = re.compile(r'_\("((?:[^"\\]|\\.)*)"\)|translate\("((?:[^"\\]|\\.)*)"\)')
    found: set[str] = set()
    sources = [*PACKAGE.joinpath("templates").rglob("*.html"), PACKAGE / "handlers" / "pages.py"]
    for path in sources:
        for match in pattern.finditer(path.read_text()):
            found.add(match.group(1) or match.group(2))
    return found


def test_every_user_visible_string_has_a_german_translation() -> None:
    with PACKAGE.joinpath("locale", "de_DE.csv").open(newline="") as handle:
        german = {row[0]: row[1] for row in csv.reader(handle) if row}
    strings = source_strings()
    assert len(strings) > 20
    missing = sorted(strings - german.keys())
    assert not missing, f"untranslated: {missing}"
    unused = sorted(german.keys() - strings)
    assert not unused, f"translations nothing uses: {unused}"


async def test_dev_shows_a_broken_pages_traceback(live: LiveService, browser: Browser) -> None:
    """A page that fails on bad data is a bug: dev shows where, escaped, on the error page."""
    item_id = await create(live, "<b>fine</b>")
    items = live.services.gateway.collection("items")
    await items.update_one({"_id": ObjectId(item_id)}, {"$unset": {"updated_at": ""}})
    page = await browser.fetch(f"/items/{item_id}")
    assert page.code == 500
    body = page.body.decode()
    assert "<h1>Error 500</h1>" in body
    assert '<pre class="trace">' in body
    assert "item_html" in body  # the compiled template names its source
    assert "KeyError: &#x27;updated_at&#x27;" in body
    not_found = await browser.fetch("/items/000000000000000000000000")
    assert not_found.code == 404
    assert "trace" not in not_found.body.decode(), "refusals are not bugs: no traceback"
