"""The web app in a real Chromium (Debian's package, driven by Playwright): log in, add a
source after its preview, write a rule and watch its live preview, save it into
config.toml, see its alert in the history, and read the rule's Atom feed. Screenshots of
the main pages (docs/screenshots) are taken on the way, for the README.

`make test` installs Chromium when it can (apt, as root); without it these tests skip."""

from __future__ import annotations

import shutil
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
from servers import SiteServer, WebhookReceiver
from web_fixtures import PASSWORD, WebSetup, make_setup

from crawler.models import Article, Source, Story, utcnow
from scheduler.web.server import BackgroundServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Chromium is not installed (apt-get install chromium)")


@pytest.fixture
def web(tmp_path: Path, webhook: WebhookReceiver) -> Iterator[WebSetup]:
    yield from make_setup(tmp_path, webhook)


@pytest.fixture
def served(web: WebSetup) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = BackgroundServer(web.app, "127.0.0.1", port)
    server.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{base}/login", timeout=2).close()
            break
        except OSError:
            server.thread.join(0.1)
    try:
        yield base
    finally:
        server.stop()


@pytest.fixture
def browser_page() -> Iterator[object]:
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            page.set_default_timeout(30_000)
            yield page
        finally:
            browser.close()


def test_a_watch_from_login_to_feed(web: WebSetup, served: str, browser_page,
                                    seed_site: SiteServer) -> None:
    page = browser_page
    expect = playwright_api.expect
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    page.goto(f"{served}/")
    assert page.url.startswith(f"{served}/login")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Log in')")
    expect(page.locator("h1")).to_have_text("Dashboard")
    page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)

    # A source, seen before it is added.
    page.click("nav >> text=Sources")
    page.click("summary:has-text('Add a source')")
    page.fill("input[name=url]", f"{seed_site.base_url}/feed/")
    page.fill("input[name=name]", "Seed News")
    page.click("button:has-text('Preview')")
    expect(page.locator("#source-preview")).to_contain_text("Found a feed", timeout=90_000)
    page.screenshot(path=str(SCREENSHOTS / "sources.png"), full_page=True)
    page.click("#add-source button:has-text('Add')")
    expect(page.locator(".flash")).to_contain_text("Added source 'Seed News'")
    assert 'name = "Seed News"' in web.config_file.read_text()

    # A rule, previewed live as it is typed.
    page.goto(f"{served}/rules/new")
    page.fill("input[name=name]", "Pyongyang watch")
    page.locator("textarea[name=query]").press_sequentially("Pyongyang", delay=20)
    expect(page.locator("#preview .preview-count")).to_contain_text("2 stories")
    expect(page.locator("#preview mark").first).to_have_text("Pyongyang")
    page.screenshot(path=str(SCREENSHOTS / "rule-preview.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.screenshot(path=str(SCREENSHOTS / "rule-preview-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1100, "height": 800})
    page.click("button:has-text('Save to config.toml')")
    expect(page.locator(".flash")).to_contain_text("Saved rule 'Pyongyang watch'")
    text = web.config_file.read_text()
    assert 'name = "Pyongyang watch"' in text and 'query = "Pyongyang"' in text
    assert "# where alerts go" in text  # the file's comments are kept

    # A new article arrives and is matched and delivered (what the daemon does).
    _arrives(web, "Kim returns to Pyongyang", "Kim flew back to Pyongyang on Friday.")
    page.goto(f"{served}/alerts")
    alert = page.locator("li.alert", has_text="Kim returns to Pyongyang").filter(
        has_text="Pyongyang watch")
    expect(alert.locator(".status")).to_have_text("sent")
    page.screenshot(path=str(SCREENSHOTS / "alerts.png"), full_page=True)

    page.goto(f"{served}/stories")
    page.screenshot(path=str(SCREENSHOTS / "stories.png"), full_page=True)
    page.goto(f"{served}/channels")
    page.screenshot(path=str(SCREENSHOTS / "channels.png"), full_page=True)

    # Its Atom feed, read like a feed reader would: no cookie, the address is the key.
    page.goto(f"{served}/rules")
    card = page.locator("article.card", has_text="Pyongyang watch")
    feed_url = card.locator("a.feed-atom").get_attribute("href")
    with urllib.request.urlopen(feed_url, timeout=10) as answer:
        feed = feedparser.parse(answer.read())
    assert not feed.bozo
    assert [entry.title for entry in feed.entries] == ["Kim returns to Pyongyang"]


def _arrives(web: WebSetup, title: str, body: str) -> None:
    from scheduler.config import load_config

    web.app.loaded = load_config(web.config_file)  # the reload the daemon would do
    now = utcnow()
    with web.app.sessions.begin() as session:
        source = session.query(Source).filter_by(name="Wire").one()
        session.add(Article(source=source, url="http://wire.test/kim", title=title, body=body,
                            language="en", content_hash="kim", first_seen_at=now,
                            story=Story(headline=title, first_seen_at=now)))
    web.app.match()
    web.app.deliver()
    assert web.webhook.wait_for(3)
