"""Re-fetching: when a feed entry's `updated` or a sitemap's `lastmod` moves forward, the
page is fetched again; changed text becomes a new version of the same article."""

from __future__ import annotations

from pathlib import Path

from hostile import CrawlHarness, HostileSite, ago, article_html, rss, source_toml

PUBLISHED = ago(hours=5)
FIRST_TEXT = "The council first said the bridge would reopen next spring after repairs. " * 3
SECOND_TEXT = "The council now says the bridge will stay closed until the autumn at least. " * 3


def sitemap(base: str, lastmod: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<url><loc>{base}/news/tunnel/</loc><lastmod>{lastmod}</lastmod></url></urlset>"""


def test_changed_pages_become_new_versions_of_the_same_article(tmp_path: Path) -> None:
    with HostileSite("127.0.0.2") as site:
        bridge = f"{site.base_url}/news/bridge/"
        tunnel = f"{site.base_url}/news/tunnel/"
        site.add_file("/feed.xml", rss([("Bridge", bridge, PUBLISHED)],
                                       updated={bridge: ago(hours=4)}))
        site.add_file("/sitemap.xml", sitemap(site.base_url, ago(hours=4).isoformat()))
        site.add_file("/news/bridge/", article_html("Bridge repairs", PUBLISHED, FIRST_TEXT))
        site.add_file("/news/tunnel/", article_html("Tunnel works", PUBLISHED, FIRST_TEXT))
        harness = CrawlHarness(tmp_path, source_toml("feed", site.base_url + "/feed.xml")
                               + source_toml("sitemap", site.base_url + "/sitemap.xml"))
        harness.crawl()
        first = harness.articles()
        assert first[bridge].version == 1 and first[tunnel].version == 1

        # Listings unchanged: nothing is fetched again.
        site.clear_log()
        harness.crawl()
        assert site.count("/news/") == 0

        # The listings say both changed; only the bridge page did.
        site.add_file("/news/bridge/", article_html("Bridge repairs", PUBLISHED, SECOND_TEXT))
        site.add_file("/feed.xml", rss([("Bridge", bridge, PUBLISHED)],
                                       updated={bridge: ago(minutes=30)}))
        site.add_file("/sitemap.xml", sitemap(site.base_url, ago(minutes=30).isoformat()))
        site.clear_log()
        result = harness.crawl()
        assert site.count("/news/bridge/") == 1 and site.count("/news/tunnel/") == 1
        assert result.outcome.summary["articles_revised"] == 1
        assert result.outcome.summary["articles_stored"] == 0

        second = harness.articles()
        assert second[bridge].id == first[bridge].id
        assert second[bridge].story_id == first[bridge].story_id
        assert second[bridge].version == 2
        assert "stay closed until the autumn" in second[bridge].body
        assert second[bridge].entry_updated_at > first[bridge].entry_updated_at
        assert second[tunnel].version == 1  # re-fetched, same text: no new version
        assert second[tunnel].entry_updated_at > first[tunnel].entry_updated_at

        [old] = harness.versions()
        assert (old.article_id, old.version) == (first[bridge].id, 1)
        assert "reopen next spring" in old.body
        assert old.content_hash == first[bridge].content_hash
