"""Per-source network settings: headers, basic auth and cookies go to the source's own
site only; a proxy carries the source's requests; a CA bundle is trusted for the source's
host, while certificates are otherwise verified."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from hostile import (
    CrawlHarness,
    HostileSite,
    TLSSite,
    ago,
    article_html,
    make_certificates,
    rss,
    source_toml,
)

FRESH = ago(hours=1)


def test_network_settings_reach_the_source_site_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEED_TOKEN", "t0ken")
    monkeypatch.setenv("FEED_PASSWORD", "s3cret")
    _, cert, key = make_certificates(tmp_path, "127.0.0.2")
    other = tmp_path / "other"
    other.mkdir()
    _, other_cert, other_key = make_certificates(other, "127.0.0.3")
    with (
        HostileSite("127.0.0.2") as site,
        HostileSite("127.0.0.3") as elsewhere,
        HostileSite("127.0.0.4") as proxy,
        TLSSite("127.0.0.2", cert, key) as trusted,
        TLSSite("127.0.0.3", other_cert, other_key) as untrusted,
    ):
        site.add_file("/private.xml", rss([
            ("Own site", f"{site.base_url}/news/own/", FRESH),
            ("Elsewhere", f"{elsewhere.base_url}/news/else/", FRESH)]))
        site.add_file("/news/own/", article_html("The own story in full"))
        elsewhere.add_file("/news/else/", article_html("The other story in full"))
        # A forward proxy gets absolute URLs; this one serves its own files for any host.
        proxy.add_file("/proxied.xml", rss([("Proxied", "http://news.proxied.test/news/p/",
                                             FRESH)]))
        proxy.add_file("/news/p/", article_html("The proxied story in full"))
        for tls in (trusted, untrusted):
            tls.add_file("/tls.xml", rss([("Over TLS", f"{tls.base_url}/news/tls/", FRESH)]))
            tls.add_file("/news/tls/", article_html("The TLS story in full"))

        sources = (
            source_toml(
                "private", f"{site.base_url}/private.xml",
                headers={"X-Api-Key": "${FEED_TOKEN}"},
                username="reader", password="${FEED_PASSWORD}",
                cookies={"session": "abc123", "consent": "yes"},
            )
            + source_toml("proxied", "http://news.proxied.test/proxied.xml",
                          proxy=proxy.base_url)
            + source_toml("own CA", f"{trusted.base_url}/tls.xml", ca_bundle="ca.pem")
            + source_toml("unknown CA", f"{untrusted.base_url}/tls.xml")
        )
        harness = CrawlHarness(tmp_path, sources)
        result = harness.crawl()

        own = {r.path: r.headers for r in site.requests}
        expected_auth = "Basic " + base64.b64encode(b"reader:s3cret").decode()
        for path in ("/private.xml", "/news/own/"):
            assert own[path]["X-Api-Key"] == "t0ken"
            assert own[path]["Authorization"] == expected_auth
            assert own[path]["Cookie"] == "session=abc123; consent=yes"
        foreign = {r.path: r.headers for r in elsewhere.requests}["/news/else/"]
        assert not {"X-Api-Key", "Authorization", "Cookie"} & set(foreign)
        articles = harness.articles()
        assert articles[f"{elsewhere.base_url}/news/else/"].title == "The other story in full"

        assert "http://news.proxied.test/proxied.xml" in proxy.paths()
        assert "http://news.proxied.test/news/p/" in articles

        assert harness.source("own CA").last_status == "ok"
        assert f"{trusted.base_url}/news/tls/" in articles
        unknown = harness.source("unknown CA")
        assert unknown.last_status == "tls error"
        assert "certificate verify failed" in unknown.last_error
        assert {p.name for p in result.problems} == {"unknown CA"}
        assert "s3cret" not in harness.config.read_text()  # still a ${VAR} reference


def test_a_missing_ca_bundle_fails_that_source_only(tmp_path: Path) -> None:
    with HostileSite("127.0.0.2") as site:
        site.add_file("/feed.xml", rss([("Fine", f"{site.base_url}/news/fine/", FRESH)]))
        site.add_file("/news/fine/", article_html("The fine story in full"))
        harness = CrawlHarness(tmp_path, source_toml("fine", f"{site.base_url}/feed.xml")
                               + source_toml("bad CA", f"{site.base_url}/feed.xml?2",
                                             ca_bundle="missing.pem"))
        harness.crawl()
        bad = harness.source("bad CA")
        assert bad.last_status == "config error"
        assert "missing.pem is not a file" in bad.last_error
        assert harness.source("fine").last_status == "ok"


def test_a_proxy_does_not_carry_requests_into_private_networks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """The guard checks proxied requests too: a public source's feed items pointing at
    loopback or the metadata service never reach its proxy; a name only the proxy can
    resolve goes through on the source's allowed hosts only."""
    monkeypatch.setenv("NEWSWATCH_TREAT_AS_PUBLIC", "127.0.0.2")
    with HostileSite("127.0.0.1") as private, HostileSite("127.0.0.4") as proxy:
        p = private.port
        private.add_file("/news/internal/", article_html("Internal memo"))
        # The proxy serves its own files whatever the host: all it logs is what it got.
        proxy.add_file("/feed.xml", rss([
            ("Loopback", f"http://127.0.0.1:{p}/news/internal/", FRESH),
            ("Localhost", f"http://localhost:{p}/news/internal/?via=name", FRESH),
            ("Metadata", "http://169.254.169.254/latest/meta-data/iam/", FRESH),
            ("Intranet", "http://intranet.corp.invalid/news/memo/", FRESH),
            ("Allowed", "http://news.proxied.test/news/allowed/", FRESH),
            ("Own site", "http://127.0.0.2:8/news/own/", FRESH),
        ]))
        for slug in ("allowed", "own"):
            proxy.add_file(f"/news/{slug}/", article_html(f"The {slug} story in full"))
        harness = CrawlHarness(tmp_path, source_toml(
            "proxied", "http://127.0.0.2:8/feed.xml", proxy=proxy.base_url,
            allowed_hosts=["news.proxied.test"]))
        result = harness.crawl()
        log = capfd.readouterr().err  # the crawl child's log

        assert result.outcome.ok, result.outcome.error
        assert harness.source("proxied").last_status == "ok"
        reached = proxy.paths()
        assert "http://127.0.0.2:8/feed.xml" in reached
        assert not [url for url in reached
                    if "127.0.0.1" in url or "localhost" in url or "169.254" in url
                    or "intranet" in url]
        assert private.paths() == []
        articles = harness.articles()
        assert articles["http://news.proxied.test/news/allowed/"].title == (
            "The allowed story in full")
        assert articles["http://127.0.0.2:8/news/own/"].title == "The own story in full"
        assert not [url for url in articles if "internal" in url or "169.254" in url
                    or "intranet" in url]
        assert result.outcome.summary["refused_requests"] >= 4
        refusals = [line for line in log.splitlines() if "WARNING: refused" in line]
        for refused in (f"http://127.0.0.1:{p}/news/internal/", f"http://localhost:{p}/",
                        "http://169.254.169.254/latest/meta-data/iam/",
                        "http://intranet.corp.invalid/news/memo/"):
            assert any(refused in message for message in refusals), (refused, refusals)
