"""The web app of a running daemon in a real Chromium (Debian's package, driven by
Playwright): log in, write a rule and watch its live preview, save it into config.toml,
add a source after its preview, see the alert it causes in the history, and read the
rule's Atom feed. Screenshots of the main pages are taken on the way (`make screenshots`
puts them in docs/screenshots, for the README).

`make test` installs Chromium when it can (apt, as root); without it these tests skip."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
from servers import SiteServer, WebhookReceiver
from test_end_to_end import NEWSWATCH
from web_fixtures import PASSWORD, WebSetup, make_setup

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Where the screenshots go: the README's folder with `make screenshots`, else the test's
# temporary folder (a test run leaves the work tree as it was).
SCREENSHOTS_ENV = "NEWSWATCH_SCREENSHOTS"
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
    """The daemon of this config, serving the web app ([web] enabled) on loopback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with web.config_file.open("a") as config:
        config.write(f"\n[web]\nenabled = true\nport = {port}\n")
    daemon = subprocess.Popen([NEWSWATCH, "--config", str(web.config_file), "run"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{base}/login", timeout=2).close()
                break
            except OSError:
                assert daemon.poll() is None, daemon.communicate()[1]
                time.sleep(0.2)
        yield base
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            daemon.kill()


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
                                    seed_site: SiteServer, tmp_path: Path) -> None:
    """Against the real daemon: the rule saved in the browser is reloaded, the source
    added in the browser is polled, and the alert it causes shows in the history."""
    page = browser_page
    expect = playwright_api.expect
    screenshots = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path / "screenshots")
    screenshots.mkdir(parents=True, exist_ok=True)

    page.goto(f"{served}/")
    assert page.url.startswith(f"{served}/login")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Log in')")
    expect(page.locator("h1")).to_have_text("Dashboard")
    expect(page.locator(".card").first).to_contain_text("running since")
    page.screenshot(path=str(screenshots / "dashboard.png"), full_page=True)

    # A rule, previewed live against the stored history as it is typed.
    page.goto(f"{served}/rules/new")
    page.fill("input[name=name]", "Pyongyang watch")
    page.locator("textarea[name=query]").press_sequentially("Pyongyang", delay=20)
    expect(page.locator("#preview .preview-count")).to_contain_text("2 stories")
    expect(page.locator("#preview mark").first).to_have_text("Pyongyang")
    page.screenshot(path=str(screenshots / "rule-preview.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.screenshot(path=str(screenshots / "rule-preview-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1100, "height": 800})
    page.click("button:has-text('Save to config.toml')")
    expect(page.locator(".flash")).to_contain_text("Saved rule 'Pyongyang watch'")
    expect(page.locator(".flash")).to_contain_text("reloaded its config: rules +Pyongyang")
    text = web.config_file.read_text()
    assert 'name = "Pyongyang watch"' in text and 'query = "Pyongyang"' in text
    assert "# where alerts go" in text  # the file's comments are kept

    # A source, seen before it is added; the daemon polls it once reloaded.
    page.click("nav >> text=Sources")
    page.click("summary:has-text('Add a source')")
    page.fill("input[name=url]", f"{seed_site.base_url}/feed/")
    page.fill("input[name=name]", "Seed News")
    page.click("button:has-text('Preview')")
    expect(page.locator("#source-preview")).to_contain_text("Found a feed", timeout=90_000)
    expect(page.locator("#source-preview")).to_contain_text("Ahead Of Pyongyang Visit")
    page.screenshot(path=str(screenshots / "sources.png"), full_page=True)
    page.click("#add-source button:has-text('Add')")
    expect(page.locator(".flash")).to_contain_text("Added source 'Seed News'")
    expect(page.locator(".flash")).to_contain_text("sources +Seed News")
    assert 'name = "Seed News"' in web.config_file.read_text()

    # The alert arrives in the history: crawled, matched and sent by the daemon.
    headline = "Putin Hails N. Korea’s Support For Ukraine War Ahead Of Pyongyang Visit"
    deadline = time.monotonic() + 120
    while True:
        page.goto(f"{served}/alerts?rule=Pyongyang+watch")
        alert = page.locator("li.alert", has_text=headline)
        if alert.count() and alert.locator(".status").inner_text() == "sent":
            break
        assert time.monotonic() < deadline, "no alert in the history"
        time.sleep(1)
    page.screenshot(path=str(screenshots / "alerts.png"), full_page=True)
    assert any(headline in str(request.json) for request in web.webhook.requests)

    page.goto(f"{served}/stories")
    page.screenshot(path=str(screenshots / "stories.png"), full_page=True)
    page.goto(f"{served}/channels")
    page.screenshot(path=str(screenshots / "channels.png"), full_page=True)

    # Its Atom feed, read like a feed reader would: no cookie, the address is the key.
    page.goto(f"{served}/rules")
    card = page.locator("article.card", has_text="Pyongyang watch")
    feed_url = card.locator("a.feed-atom").get_attribute("href")
    with urllib.request.urlopen(feed_url, timeout=10) as answer:
        feed = feedparser.parse(answer.read())
    assert not feed.bozo
    assert [entry.title for entry in feed.entries] == [headline]
    assert len(list(screenshots.glob("*.png"))) == 7
