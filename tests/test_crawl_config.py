"""The crawler's config keys: per-source kind, network settings and polling bounds, and
the [crawler] limits; each mistake is one line naming the key, its line and what was
expected."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from scheduler.app import App
from scheduler.config import ConfigError, load_config

SOURCE = """\
[crawler]
max_poll_interval = "3h"
unhealthy_after_failures = 3

[[sources]]
name = "Wire"
url = "https://wire.example.org/"
"""


def problems(tmp_path: Path, extra: str, crawler: str = "") -> list[str]:
    path = tmp_path / "config.toml"
    path.write_text(SOURCE.replace("[crawler]\n", "[crawler]\n" + crawler) + extra,
                    encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    return caught.value.problems


@pytest.mark.parametrize(
    ("extra", "where", "message"),
    [
        ('kind = "rss"', "8: sources[0].kind",
         "expected 'auto', 'feed', 'sitemap' or 'page'"),
        ('password = "x"', "8: sources[0].password", "a password needs a username (basic auth)"),
        ('headers = { "Bad Header" = "x" }', "8: sources[0].headers",
         "'Bad Header' is not a valid HTTP header name"),
        ('headers = { "X-Token" = "a\\r\\nInjected: yes" }', "8: sources[0].headers",
         "header 'X-Token': a value can't contain a line break"),
        ('headers = { Cookie = "a=b" }', "8: sources[0].headers",
         "header 'Cookie' can't be set here (use cookies = {...})"),
        ('cookies = { session = "a;b" }', "8: sources[0].cookies",
         "cookie 'session': a value can't contain ';' or a line break"),
        ('proxy = "socks5://127.0.0.1:1080"', "8: sources[0].proxy", "expected a proxy URL"),
        ('allowed_hosts = ["https://cdn.example.org/"]', "8: sources[0].allowed_hosts",
         "expected host names such as \"cdn.example.com\""),
        ('interval = "1h"\nmax_interval = "30m"', "9: sources[0].max_interval",
         "expected at least the source's interval (1h)"),
        ('max_interval = "5s"', "8: sources[0].max_interval", "expected an interval of at least"),
        ("ca_bundle = \"\"", "8: sources[0].ca_bundle", "expected the path of a PEM file"),
    ],
)
def test_source_key_errors_name_the_key(tmp_path: Path, extra: str, where: str,
                                        message: str) -> None:
    [problem] = problems(tmp_path, extra)
    assert f"config.toml:{where}: {message}" in problem


@pytest.mark.parametrize(
    ("crawler", "key"),
    [
        ("max_sitemap_size = 10\n", "crawler.max_sitemap_size"),
        ('max_backoff = "soon"\n', "crawler.max_backoff"),
        ("verify_tls = \"maybe\"\n", "crawler.verify_tls"),
        ("max_redirects = 50\n", "crawler.max_redirects"),
        ("concurrent_requests = 0\n", "crawler.concurrent_requests"),
    ],
)
def test_crawler_key_errors_name_the_key(tmp_path: Path, crawler: str, key: str) -> None:
    [problem] = problems(tmp_path, "", crawler)
    assert f": {key}: " in problem


def test_a_full_source_becomes_the_crawl_job_the_child_gets(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[storage]\nurl = "sqlite:///{tmp_path / "n.db"}"\n\n' + SOURCE + """\
kind = "sitemap"
interval = "15m"
headers = { "X-Api-Key" = "${API_KEY}" }
username = "reader"
password = "${PASSWORD}"
cookies = { consent = "yes" }
proxy = "http://proxy.example.org:3128"
ca_bundle = "certs/intranet.pem"
allowed_hosts = ["CDN.example.net"]
""",
        encoding="utf-8",
    )
    app = App(load_config(path, {"API_KEY": "k", "PASSWORD": "p"}))
    try:
        app.open()
        [spec] = app.crawl_job().sources
    finally:
        app.close()
    assert (spec.kind, spec.headers, spec.username, spec.password) == (
        "sitemap", {"X-Api-Key": "k"}, "reader", "p")
    assert spec.cookies == {"consent": "yes"}
    assert spec.proxy == "http://proxy.example.org:3128"
    assert spec.ca_bundle == str(tmp_path / "certs" / "intranet.pem")
    assert spec.allowed_hosts == ["cdn.example.net"]
    bounds = spec.poll_bounds()
    assert (bounds.min_interval, bounds.max_interval) == (timedelta(minutes=15),
                                                          timedelta(hours=3))
    assert bounds.unhealthy_after == 3


def test_changing_a_source_url_or_forcing_its_kind_forgets_what_was_learnt(
    tmp_path: Path,
) -> None:
    from crawler.models import Source

    path = tmp_path / "config.toml"
    path.write_text(f'[storage]\nurl = "sqlite:///{tmp_path / "n.db"}"\n\n' + SOURCE,
                    encoding="utf-8")
    app = App(load_config(path, {}))
    app.open()
    with app.sessions.begin() as session:
        source = session.query(Source).one()
        source.kind, source.resolved_url, source.etag = "feed", "https://wire/f.xml", '"v1"'
    app.close()

    for text, kept in ((SOURCE, True), (SOURCE + 'kind = "auto"\n', True),
                       (SOURCE + 'kind = "page"\n', False)):
        path.write_text(f'[storage]\nurl = "sqlite:///{tmp_path / "n.db"}"\n\n' + text,
                        encoding="utf-8")
        app = App(load_config(path, {}))
        app.open()
        with app.sessions() as session:
            source = session.query(Source).one()
            assert (source.resolved_url is not None, source.etag is not None) == (kept, kept)
        app.close()
