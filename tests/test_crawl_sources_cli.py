"""`newswatch sources`: add (detect, preview, write config.toml keeping its comments),
list, remove, and OPML import/export."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hostile import CrawlHarness, HostileSite, ago, article_html, rss

from scheduler.commands.common import Context
from scheduler.commands.sources import sources
from scheduler.config import load_config
from scheduler.opml import read_opml

FRESH = ago(hours=1)
CONFIG = """\
# My newswatch config: keep this comment.

[storage]
url = "sqlite:///news.db"   # next to this file

[crawler]
download_delay = "0s"

[[sources]]
name = "Existing"   # a source we already had
url = "http://127.0.0.2:9/existing.xml"
"""

OPML = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0"><head><title>Reader export</title></head><body>
<outline text="World" title="World">
  <outline type="rss" text="Daily World" xmlUrl="https://world.example.org/rss" htmlUrl="https://world.example.org/"/>
  <outline type="rss" text="Existing" xmlUrl="https://other.example.org/feed"/>
  <outline type="rss" text="Duplicate" xmlUrl="http://127.0.0.2:9/existing.xml"/>
</outline>
<outline type="link" text="A section" url="https://news.example.org/world/"/>
<outline text="No URL at all"/>
</body></opml>"""


def run(config: Path, *args: str) -> Result:
    return CliRunner().invoke(sources, list(args), obj=Context(config), catch_exceptions=False)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def test_add_detects_the_announced_feed_previews_it_and_keeps_the_file(config: Path) -> None:
    with HostileSite("127.0.0.2") as site:
        site.add_file("/", '<html><head><title>Home</title><link rel="alternate" '
                      'type="application/rss+xml" href="/feed.xml"></head></html>')
        site.add_file("/feed.xml", rss([("Storm hits the coast", f"{site.base_url}/news/a/",
                                         FRESH)], title="Coastal News"))
        site.set_route("/broken", status=500)

        added = run(config, "add", f"{site.base_url}/")
        assert added.exit_code == 0, added.output
        assert f"Found a feed 'Coastal News': the feed {site.base_url}/feed.xml" in added.output
        assert "Storm hits the coast" in added.output
        assert f"Added source 'Coastal News' to {config}" in added.output
        assert not site.count("/news/")  # a preview fetches no article

        text = config.read_text(encoding="utf-8")
        assert text.startswith(CONFIG)  # comments and layout untouched
        new = load_config(config).config.sources[-1]
        assert (new.name, new.url, new.kind) == ("Coastal News", f"{site.base_url}/", "auto")

        again = run(config, "add", f"{site.base_url}/")
        assert again.exit_code == 1 and "already a source" in again.output

        broken = run(config, "add", f"{site.base_url}/broken", "--name", "Broken")
        assert broken.exit_code == 1 and "HTTP 500" in broken.output
        assert config.read_text(encoding="utf-8") == text

        dry = run(config, "add", f"{site.base_url}/feed.xml", "--name", "Direct", "--dry-run")
        assert "Would add source 'Direct'" in dry.output
        assert config.read_text(encoding="utf-8") == text


def test_list_shows_kind_resolved_url_last_fetch_and_next_poll(tmp_path: Path) -> None:
    with HostileSite("127.0.0.2") as site:
        site.add_file("/", '<html><head><link rel="alternate" type="application/atom+xml" '
                      'href="/atom.xml"></head></html>')
        site.add_file("/atom.xml", rss([("A", f"{site.base_url}/news/a/", FRESH)]))
        site.add_file("/news/a/", article_html("The A story in full"))
        site.set_route("/down.xml", status=503)
        harness = CrawlHarness(
            tmp_path,
            f'[[sources]]\nname = "Home"\nurl = "{site.base_url}/"\n\n'
            f'[[sources]]\nname = "Down"\nurl = "{site.base_url}/down.xml"\nkind = "feed"\n\n'
            '[[sources]]\nname = "New"\nurl = "http://127.0.0.2:9/new.xml"\n',
        )
        harness.crawl(["Home", "Down"])
        listing = run(harness.config).output
    assert "Home: feed (auto)" in listing
    assert f"  polls:      {site.base_url}/atom.xml" in listing
    assert "(ok)" in listing and "Down: feed" in listing
    assert "  last error: HTTP 503" in listing
    assert listing.count("  next poll:  20") == 2
    assert "New: not yet known (auto)" in listing and "last fetch: never" in listing


def test_remove_keeps_the_rest_of_the_file(config: Path) -> None:
    config.write_text(CONFIG + '\n[[sources]]\nname = "Second"\nurl = "https://x.test/f"\n',
                      encoding="utf-8")
    removed = run(config, "remove", "Second")
    assert removed.exit_code == 0 and "Removed source 'Second'" in removed.output
    assert config.read_text(encoding="utf-8").rstrip() == CONFIG.rstrip()
    missing = run(config, "remove", "Nope")
    assert missing.exit_code == 1 and "no source named 'Nope'" in missing.output


def test_opml_import_then_export_round_trips(config: Path, tmp_path: Path) -> None:
    opml = tmp_path / "reader.opml"
    opml.write_text(OPML, encoding="utf-8")
    dry = run(config, "import", str(opml), "--dry-run")
    assert "Would add 3 sources" in dry.output
    assert config.read_text(encoding="utf-8") == CONFIG

    imported = run(config, "import", str(opml))
    assert imported.exit_code == 0, imported.output
    assert "Added 3 sources" in imported.output and "(1 skipped)" in imported.output
    names = {s.name: s for s in load_config(config).config.sources}
    assert names["Daily World"].kind == "feed"
    assert names["Existing (2)"].url == "https://other.example.org/feed"
    assert names["A section"].kind == "auto"
    assert config.read_text(encoding="utf-8").startswith(CONFIG)

    exported = run(config, "export")
    assert exported.exit_code == 0, exported.output
    outlines = {o.name: o for o in read_opml(exported.output.encode())}
    assert set(outlines) == {"Existing", "Daily World", "Existing (2)", "A section"}
    assert (outlines["Daily World"].kind, outlines["Daily World"].url) == (
        "feed", "https://world.example.org/rss")
    assert outlines["A section"].kind == "auto"


def test_import_refuses_a_file_that_is_not_opml(config: Path, tmp_path: Path) -> None:
    bogus = tmp_path / "x.opml"
    bogus.write_text("<html><body>hi</body></html>", encoding="utf-8")
    result = run(config, "import", str(bogus))
    assert result.exit_code == 1 and "not an OPML document" in result.output


def test_every_command_explains_itself_with_an_example() -> None:
    for name, command in sources.commands.items():
        assert "Example: newswatch sources" in (command.help or ""), name
    assert "Example: newswatch sources" in (sources.help or "")


def test_import_of_a_truncated_file_adds_nothing_and_fails(config: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.opml"
    cut.write_text(OPML[: OPML.index("Duplicate")], encoding="utf-8")  # a download cut short
    result = run(config, "import", str(cut))
    assert result.exit_code == 1, result.output
    assert "not well-formed XML" in result.output and "export it" in result.output
    assert config.read_text(encoding="utf-8") == CONFIG  # nothing half-imported
    empty = tmp_path / "empty.opml"
    empty.write_text('<opml version="2.0"><body></body></opml>', encoding="utf-8")
    nothing = run(config, "import", str(empty))
    assert nothing.exit_code == 1 and "no feeds" in nothing.output


def test_add_refuses_the_feed_of_a_homepage_that_is_a_source_and_vice_versa(
    tmp_path: Path
) -> None:
    with HostileSite("127.0.0.2") as site:
        site.add_file("/", '<html><head><link rel="alternate" type="application/rss+xml" '
                      'href="/feed.xml"></head></html>')
        site.add_file("/feed.xml", rss([("A", f"{site.base_url}/news/a/", FRESH)]))
        site.add_file("/news/a/", article_html("The A story in full"))
        harness = CrawlHarness(tmp_path, f'[[sources]]\nname = "Home"\nurl = "{site.base_url}/"\n')
        harness.crawl(["Home"])  # the database now knows Home polls /feed.xml
        before = harness.config.read_text(encoding="utf-8")
        feed = run(harness.config, "add", f"{site.base_url}/feed.xml")
        assert feed.exit_code == 1
        assert "the feed the source 'Home' announces" in feed.output
        assert harness.config.read_text(encoding="utf-8") == before

        other = tmp_path / "other"
        other.mkdir()
        feed_config = other / "config.toml"
        feed_config.write_text(f'[[sources]]\nname = "Feed"\nurl = "{site.base_url}/feed.xml"\n',
                               encoding="utf-8")
        home = run(feed_config, "add", f"{site.base_url}/")
        assert home.exit_code == 1
        assert "which is already the source 'Feed'" in home.output
        assert "[[sources]]" not in feed_config.read_text(encoding="utf-8").split("Feed", 1)[1]
