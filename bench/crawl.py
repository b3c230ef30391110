"""Crawl throughput: a full first crawl of a local news site, then an all-304 second crawl.

Usage: .venv/bin/python bench/crawl.py [--articles 2200] [PATH_TO_FUNDUS_EVAL]

Builds a site on 127.0.0.1 from the 80 real publisher pages of ../shared/data/fundus-eval:
each article page is one of them with a new headline, a fresh publish time and a fifth
of its paragraph words swapped (so that they are distinct articles, not copies). They are
reachable through 10 RSS feeds of 100 items, a sitemap index with two Google News
sitemaps (overlapping the feeds by 200 articles) and a section page. The crawl is the
product's: `App.crawl()` in a child process, with extraction, story grouping and storage
into a fresh SQLite database; only the politeness is loosened for a local bench
(download_delay 0, 16 requests per domain). The second crawl finds every listing
unchanged (ETag), so it costs 304s and no article page.
"""

from __future__ import annotations

import argparse
import email.utils
import gzip
import hashlib
import json
import random
import re
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crawler.extract import extract_article  # noqa: E402
from scheduler.app import App  # noqa: E402
from scheduler.config import load_config  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "fundus-eval"
FEEDS, PER_FEED = 10, 100
SITEMAP_OVERLAP = 200
_ISO_DATE = re.compile(
    r"(?<!\d)20\d\d-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d)?(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)?(?!\d)"
)
_PARAGRAPH = re.compile(r"(<p\b[^>]*>)(.*?)(</p>)", re.S | re.I)
_TEXT = re.compile(r"(?:^|(?<=>))[^<]+")
_WORD = re.compile(r"[A-Za-z]{4,}")


# --- the site --------------------------------------------------------------------------


class Site:
    """Static files in memory, with ETag validators, served by a threaded HTTP server."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.files: dict[str, tuple[bytes, str, str]] = {}
        self.requests = 0
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer((host, 0), self._handler())
        self.base = f"http://{host}:{self.server.server_address[1]}"

    def add(self, path: str, body: bytes, content_type: str) -> None:
        etag = '"' + hashlib.sha1(body).hexdigest() + '"'
        self.files[path] = (body, content_type, etag)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with site.lock:
                    site.requests += 1
                found = site.files.get(self.path.split("?")[0])
                if found is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body, content_type, etag = found
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def start(self) -> None:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def load_templates(data: Path) -> list[tuple[str, str]]:
    """(html, headline) of each real page."""
    truth = json.loads((data / "ground_truth.json").read_text(encoding="utf-8"))
    templates = []
    for name in sorted(truth):
        html = gzip.decompress((data / "html" / name).read_bytes()).decode("utf-8", "replace")
        title = extract_article(html, truth[name]["url"]).title or ""
        templates.append((html, title))
    return templates


def vocabulary(templates: list[tuple[str, str]]) -> list[str]:
    words = set()
    for html, _ in templates:
        for paragraph in _PARAGRAPH.finditer(html):
            words.update(_WORD.findall(paragraph.group(2)))
    return sorted(words)


def article_page(template: tuple[str, str], index: int, words: list[str],
                 published: datetime) -> tuple[str, bytes]:
    """A distinct article made from a real page: (headline, html)."""
    rng = random.Random(index)
    html, title = template
    headline = " ".join(rng.choice(words).capitalize() for _ in range(3)) + f": {title}"

    def swap_words(text: re.Match[str]) -> str:
        return _WORD.sub(lambda w: rng.choice(words) if rng.random() < 0.2 else w.group(),
                         text.group())

    def vary(paragraph: re.Match[str]) -> str:
        return paragraph.group(1) + _TEXT.sub(swap_words, paragraph.group(2)) + paragraph.group(3)

    html = _PARAGRAPH.sub(vary, html)
    if title:
        html = html.replace(title, headline)
    html = _ISO_DATE.sub(published.isoformat(timespec="seconds"), html)
    return headline, html.encode("utf-8")


def build_site(site: Site, data: Path, count: int) -> dict[str, int]:
    templates = load_templates(data)
    words = vocabulary(templates)
    now = datetime.now(UTC)
    items = []
    for index in range(count):
        published = now - timedelta(minutes=5 + index % 2000)
        headline, html = article_page(templates[index % len(templates)], index, words, published)
        slug = "-".join(re.findall(r"[a-z]+", headline.lower())[:8]) or "story"
        path = f"/news/{slug}-{index}/"
        site.add(path, html, "text/html; charset=utf-8")
        items.append((headline, site.base + path, published))

    def escape(text: str) -> str:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    for feed in range(FEEDS):
        entries = "".join(
            f"<item><title>{escape(title)}</title><link>{link}</link>"
            f"<pubDate>{email.utils.format_datetime(when)}</pubDate>"
            f"<description>{escape(title)}</description></item>"
            for title, link, when in items[feed * PER_FEED:(feed + 1) * PER_FEED]
        )
        site.add(f"/feeds/{feed}.xml", (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>Feed {feed}</title><link>{site.base}/</link>{entries}</channel></rss>"
        ).encode(), "application/rss+xml")

    in_feeds = FEEDS * PER_FEED
    rest = items[in_feeds - SITEMAP_OVERLAP:]
    section, in_sitemaps = rest[-150:], rest[:-150]
    half = len(in_sitemaps) // 2
    children = []
    for number, chunk in enumerate((in_sitemaps[:half], in_sitemaps[half:]), start=1):
        urls = "".join(
            f"<url><loc>{link}</loc><news:news><news:publication><news:name>Bench</news:name>"
            f"<news:language>en</news:language></news:publication><news:publication_date>"
            f"{when.isoformat()}</news:publication_date><news:title>{escape(title)}"
            f"</news:title></news:news></url>"
            for title, link, when in chunk
        )
        site.add(f"/sitemaps/news-{number}.xml", (
            '<?xml version="1.0" encoding="UTF-8"?><urlset '
            'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{urls}</urlset>'
        ).encode(), "application/xml")
        children.append(f"<sitemap><loc>{site.base}/sitemaps/news-{number}.xml</loc>"
                        f"<lastmod>{now.isoformat()}</lastmod></sitemap>")
    site.add("/sitemap_index.xml", (
        '<?xml version="1.0" encoding="UTF-8"?><sitemapindex '
        f'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{"".join(children)}'
        "</sitemapindex>"
    ).encode(), "application/xml")
    links = "".join(f'<h3><a href="{link}">{escape(title)}</a></h3>' for title, link, _ in section)
    site.add("/section/", f"<html><head><title>Latest</title></head><body>{links}</body></html>"
             .encode(), "text/html; charset=utf-8")
    return {"articles": count, "in feeds": in_feeds,
            "in sitemaps": len(in_sitemaps), "on the section page": len(section)}


# --- the crawls --------------------------------------------------------------------------


def write_config(folder: Path, base: str) -> Path:
    sources = [f'[[sources]]\nname = "Feed {n}"\nurl = "{base}/feeds/{n}.xml"\n'
               for n in range(FEEDS)]
    sources.append(f'[[sources]]\nname = "Sitemaps"\nurl = "{base}/sitemap_index.xml"\n')
    sources.append(f'[[sources]]\nname = "Section"\nurl = "{base}/section/"\nkind = "page"\n')
    path = folder / "config.toml"
    path.write_text(
        f'[storage]\nurl = "sqlite:///{folder / "bench.db"}"\n\n'
        '[crawler]\ndownload_delay = "0s"\nconcurrent_requests = 32\n'
        'concurrent_requests_per_domain = 16\ncrawl_time_limit = "60m"\n\n'
        + "\n".join(sources),
        encoding="utf-8",
    )
    return path


def timed_crawl(app: App) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    outcome, problems = app.crawl()
    elapsed = time.perf_counter() - started
    if not outcome.ok or problems:
        raise SystemExit(f"crawl failed: {outcome.error} {problems}")
    return elapsed, outcome.summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--articles", type=int, default=2200)
    args = parser.parse_args()

    site = Site()
    started = time.perf_counter()
    layout = build_site(site, args.data, args.articles)
    site.start()
    print(f"site: {layout} built in {time.perf_counter() - started:.1f}s")

    with tempfile.TemporaryDirectory() as folder:
        app = App(load_config(write_config(Path(folder), site.base)))
        app.open()
        try:
            first, summary = timed_crawl(app)
            stored = int(summary.get("articles_stored", 0))
            print(f"first crawl: {stored} articles stored in {first:.1f}s = "
                  f"{stored / first:.1f} articles/s ({summary.get('requests')} requests, "
                  f"peak memory {int(summary.get('peak_memory_bytes') or 0) / 2**20:.0f} MB)")
            before = site.requests
            second, summary = timed_crawl(app)
            print(f"second crawl (all 304): {second:.1f}s, {site.requests - before} requests, "
                  f"{summary.get('articles_stored', 0)} new articles")
        finally:
            app.close()


if __name__ == "__main__":
    main()
