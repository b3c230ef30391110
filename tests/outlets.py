"""Small news sites that republish a wire story in their own page template."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from servers import SEED_HOST

TEMPLATES = {
    "gazette": """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{title} - The Harbour Gazette</title>
<meta property="og:title" content="{title}">
<meta property="article:published_time" content="{published}">
<link rel="canonical" href="{url}"></head>
<body><header><nav><a href="/">Home</a> <a href="/world/">World</a> <a href="/sport/">Sport</a>
<form action="/search"><input name="q"></form></nav></header>
<main><article><h1>{title}</h1><p class="byline">By {author} | {published_human}</p>
<div class="story-body">{paragraphs}</div></article>
<aside class="newsletter"><h3>Get the morning briefing</h3>
<p>Sign up for our newsletter and never miss a story.</p><input type="email"></aside>
<section class="more"><h3>More from World</h3><ul>
<li><a href="/world/1/">Floods hit the coast as storm moves north</a></li>
<li><a href="/world/2/">Elections called for the autumn</a></li></ul></section></main>
<footer>&copy; The Harbour Gazette. All rights reserved.</footer></body></html>""",
    "courier": """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{title} | Daily Courier</title>
<script type="application/ld+json">{{"@context": "https://schema.org",
"@type": "NewsArticle", "headline": "{title_json}", "datePublished": "{published}",
"author": {{"@type": "Person", "name": "{author}"}}}}</script></head>
<body><div id="top-bar">Breaking: markets open higher | Weather: 18C</div>
<div class="layout"><div class="main-col"><h1 class="headline">{title}</h1>
<div class="share"><a href="#">Share on Facebook</a> <a href="#">Share on X</a></div>
<div class="content">{paragraphs}</div>
<div class="comments"><h4>Comments</h4><p>Log in to leave a comment.</p></div></div>
<div class="sidebar"><h4>Most read</h4><ol><li><a href="/a/">Local team wins derby</a></li>
<li><a href="/b/">New bridge opens to traffic</a></li></ol></div></div>
<div class="cookie-banner">We use cookies to improve your experience. Accept all</div>
</body></html>""",
    "bulletin": """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<meta name="author" content="{author}"><meta name="date" content="{published}"></head>
<body><table width="100%"><tr><td class="menu"><a href="/">Bulletin</a> |
<a href="/news/">News</a> | <a href="/opinion/">Opinion</a></td></tr>
<tr><td class="text"><h2>{title}</h2>{paragraphs}
<p class="related"><b>Related:</b> <a href="/news/9/">Talks resume in Geneva</a></p></td></tr>
<tr><td class="foot">Bulletin News Network &middot; Contact &middot; Privacy</td></tr></table>
</body></html>""",
}


@dataclass(frozen=True)
class Copy:
    """One outlet's version of a story."""

    template: str
    slug: str
    title: str
    paragraphs: list[str]
    author: str = "AFP"


def write_outlet(
    root: Path, copies: list[Copy], base_url: str = SEED_HOST, now: datetime | None = None
) -> None:
    """Write a site (feed at /feed/, one page per copy) into `root`, links on `base_url`
    (by default the placeholder host that SiteServer rewrites to its own address)."""
    now = now or datetime.now(UTC)
    items = []
    for number, copy in enumerate(copies):
        published = now - timedelta(minutes=30 + number)
        url = f"{base_url}/news/{copy.slug}/"
        page = TEMPLATES[copy.template].format(
            title=html.escape(copy.title),
            title_json=copy.title.replace('"', '\\"'),
            url=url,
            author=copy.author,
            published=published.isoformat(timespec="seconds"),
            published_human=f"{published:%d %B %Y}",
            paragraphs="\n".join(f"<p>{html.escape(p)}</p>" for p in copy.paragraphs),
        )
        path = root / "news" / copy.slug / "index.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page, encoding="utf-8")
        items.append(
            f"<item><title>{html.escape(copy.title)}</title><link>{url}?utm_source=rss</link>"
            f"<pubDate>{format_datetime(published)}</pubDate><guid>{url}</guid></item>"
        )
    feed = root / "feed" / "index.xml"
    feed.parent.mkdir(parents=True, exist_ok=True)
    feed.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{base_url}</title><link>{base_url}/</link>{''.join(items)}</channel></rss>",
        encoding="utf-8",
    )
    (root / "robots.txt").write_text("User-agent: *\nAllow: /\n", encoding="utf-8")
