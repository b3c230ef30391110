"""Measure story deduplication on labelled syndication sets, as deployed.

Usage: .venv/bin/python bench/dedup.py [--data PATH] [--seed N] [--background N] [--sweep]

Two sets are built, each a list of labelled pages:

* **fundus**: the 80 real articles of ../shared/data/fundus-eval (ground-truth bodies).
  Each story is its original page plus copies in four of five outlet templates written
  here (nav, share bar, related links with other stories' headlines and teasers,
  newsletter box, comment form, footer), each copy with realistic edits drawn at
  random: a rewritten headline, the last paragraphs cut, a reporter's credit or an
  editor's note, an intro sentence, US/UK spelling, typographic quotes. Hard negatives:
  every story appears in the same five templates, and background variants insert one
  paragraph of another story into an article, as wire stories share background.
* **generated**: the same construction on articles written by a small news-prose
  generator (own word lists and sentence patterns, no shared text), with several
  articles per topic sharing names and places: checks that nothing was tuned to the
  shared pages.

Each page goes through the project's extractor (crawler.extract.extract_article), then
through ArticleStore.save_article (which calls crawler.stories.story_for) on a real
SQLite file. The fundus set is stored into a database already holding `--background`
articles (generated, with real signatures and bands) so that the timing and the chance
candidates are those of a big index. Printed: pairwise precision and recall of "same
story", hard-negative merges (pairs of different stories merged although they shared a
template or a paragraph), merges into background articles, and articles/second through
story_for and through save_article.

`--data` takes any folder laid out like fundus-eval (ground_truth.json with each
page's url and body paragraphs, html/ with the gzipped pages), so the same
construction runs on pages outside the shared set.

`--sweep` prints the measurements behind crawler/dedup.py's parameters instead: the
containment of true copies and of hard negatives by shingle size, the candidate recall
of LSH settings (and of SimHash), computed on the extracted texts.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import random
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, insert, select  # noqa: E402

import crawler.store  # noqa: E402
import crawler.stories  # noqa: E402
from crawler import dedup  # noqa: E402
from crawler.database import make_engine  # noqa: E402
from crawler.extract import extract_article  # noqa: E402
from crawler.items import ArticleItem  # noqa: E402
from crawler.models import Article, Source, StoryBand, url_digest  # noqa: E402
from crawler.store import ArticleStore, content_hash  # noqa: E402
from scheduler.migrate import upgrade_database  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "fundus-eval"
TARGET_PRECISION = 0.995
TARGET_RECALL = 0.98

# --- the labelled set ---------------------------------------------------------------


@dataclass(frozen=True)
class Para:
    """A paragraph and where it comes from: (story, index) for source text, None for an
    edit's own text (credit, note, intro)."""

    text: str
    origin: tuple[str, int] | None = None


@dataclass(frozen=True)
class Copy:
    title: str
    paras: tuple[Para, ...]
    edits: tuple[str, ...] = ()


@dataclass(frozen=True)
class Original:
    """An article the set republishes: its text, and its real page when there is one."""

    key: str
    title: str
    paragraphs: tuple[str, ...]
    url: str = ""
    html: bytes | None = None  # the real page, when there is one


@dataclass
class Page:
    story: str
    outlet: str
    url: str
    html: str | bytes
    origins: frozenset[tuple[str, int]]
    edits: tuple[str, ...]
    kind: str = "copy"  # "original", "copy" or "background"
    title: str = ""
    body: str = ""


def load_fundus(data: Path) -> list[Original]:
    truth = json.loads((data / "ground_truth.json").read_text())
    sources = []
    for name, entry in sorted(truth.items()):
        html = gzip.decompress((data / "html" / name).read_bytes())
        title = extract_article(html, entry["url"]).title or entry["body"][0][:80]
        paragraphs = tuple(p.strip() for p in entry["body"] if p.strip())
        sources.append(Original(name.removesuffix(".html.gz"), title, paragraphs,
                               entry["url"], html))
    return sources


def as_copy(source: Original) -> Copy:
    return Copy(source.title, tuple(Para(text, (source.key, i))
                                    for i, text in enumerate(source.paragraphs)))


# --- edits an outlet makes ----------------------------------------------------------

NAMES = ["Maria Lindqvist", "Tom Okafor", "Priya Raman", "Daniel Hurst", "Lena Vogt",
         "Samuel Adeyemi", "Claire Dubois", "Kenji Mori", "Rosa Almeida", "Ivan Petrov"]
CITIES = ["London", "Washington", "Brussels", "Nairobi", "Singapore", "Berlin", "Toronto"]


def rewrite_headline(rng: random.Random, copy: Copy) -> Copy:
    words = copy.title.split()
    variants = [
        lambda: f"{copy.title.rstrip('.')}: what we know",
        lambda: "WATCH: " + copy.title,
        lambda: " ".join(words[: max(4, len(words) * 2 // 3)]) + " …",
        lambda: " ".join(copy.paras[0].text.split()[:12]).rstrip(",.;:") if copy.paras else "",
        lambda: f"{copy.title} | Report",
        lambda: copy.title.lower().capitalize(),
    ]
    return replace(copy, title=rng.choice(variants)() or copy.title)


def cut_last_paragraphs(rng: random.Random, copy: Copy) -> Copy:
    """Keep the first 35-85% of the paragraphs (at least two when there are three)."""
    count = len(copy.paras)
    if count < 3:
        return copy
    keep = max(2, round(count * rng.uniform(0.35, 0.85)))
    return replace(copy, paras=copy.paras[: min(keep, count - 1)])


def add_credit(rng: random.Random, copy: Copy) -> Copy:
    name, other, city = rng.choice(NAMES), rng.choice(NAMES), rng.choice(CITIES)
    credit = rng.choice([
        f"Reporting by {name} in {city}; Editing by {other}",
        f"{name} contributed reporting from {city}.",
        "The Associated Press contributed to this report.",
        f"This article originally appeared on {rng.choice(OUTLETS).name} and is republished "
        "here with permission.",
    ])
    return replace(copy, paras=(*copy.paras, Para(credit)))


def add_editors_note(rng: random.Random, copy: Copy) -> Copy:
    note = rng.choice([
        "Editor's note: This story has been updated with additional reporting.",
        "Editor's note: This article was corrected to fix the spelling of an official's name.",
        "Editor's note: An earlier version of this story misstated the date of the vote.",
    ])
    if rng.random() < 0.5:
        return replace(copy, paras=(Para(note), *copy.paras))
    return replace(copy, paras=(*copy.paras, Para(note)))


def add_intro_sentence(rng: random.Random, copy: Copy) -> Copy:
    intro = rng.choice([
        "Here is what you need to know about the story everyone is talking about today.",
        f"{rng.choice(CITIES).upper()} (Wire) — The latest from our correspondents follows.",
        f"In a development that drew wide attention this week, {copy.title.rstrip('.')}.",
        "This is a developing story and will be updated as more information comes in.",
    ])
    if copy.paras and rng.random() < 0.5:
        first = copy.paras[0]
        return replace(copy, paras=(Para(f"{intro} {first.text}", first.origin), *copy.paras[1:]))
    return replace(copy, paras=(Para(intro), *copy.paras))


# US and UK spellings of the same word, both ways; the bench's own list, independent
# of the normalisation rules in crawler/dedup.py.
SPELLINGS = {
    "color": "colour", "colors": "colours", "honor": "honour", "favor": "favour",
    "favorite": "favourite", "labor": "labour", "neighbor": "neighbour",
    "neighbors": "neighbours", "behavior": "behaviour", "center": "centre",
    "centers": "centres", "theater": "theatre", "organization": "organisation",
    "organizations": "organisations", "organized": "organised", "recognize": "recognise",
    "recognized": "recognised", "realize": "realise", "realized": "realised",
    "criticized": "criticised", "criticize": "criticise", "emphasized": "emphasised",
    "apologized": "apologised", "analyze": "analyse", "defense": "defence",
    "offense": "offence", "traveled": "travelled", "traveling": "travelling",
    "canceled": "cancelled", "labeled": "labelled", "modeling": "modelling",
    "counselor": "counsellor", "catalog": "catalogue", "program": "programme",
    "gray": "grey", "percent": "per cent", "jewelry": "jewellery", "aging": "ageing",
    "judgment": "judgement", "pediatric": "paediatric", "maneuver": "manoeuvre",
    "skeptical": "sceptical", "mom": "mum", "airplane": "aeroplane",
    "aluminum": "aluminium", "fulfill": "fulfil", "enroll": "enrol", "tire": "tyre",
    "license": "licence", "rumor": "rumour", "rumors": "rumours", "humor": "humour",
    "vigor": "vigour", "harbor": "harbour", "endeavor": "endeavour", "meter": "metre",
    "liter": "litre", "fiber": "fibre", "dialog": "dialogue", "mold": "mould",
    "authorized": "authorised", "characterized": "characterised", "prioritize": "prioritise",
    "mobilized": "mobilised", "stabilize": "stabilise", "minimize": "minimise",
}
_SPELLING_BOTH_WAYS = {**SPELLINGS, **{uk: us for us, uk in SPELLINGS.items()}}
_SPELLING_WORD = re.compile(r"\b(" + "|".join(sorted(_SPELLING_BOTH_WAYS, key=len, reverse=True))
                            + r")\b", re.IGNORECASE)


def _respell_word(match: re.Match[str]) -> str:
    word = match.group(0)
    other = _SPELLING_BOTH_WAYS[word.lower()]
    return other.capitalize() if word[0].isupper() else other


def respell(rng: random.Random, copy: Copy) -> Copy:
    """US to UK spelling and back, and the house style's quotes and abbreviations."""
    def house_style(text: str) -> str:
        text = _SPELLING_WORD.sub(_respell_word, text)
        text = re.sub(r"\b(\d+) percent\b", r"\1 per cent", text)
        return text.replace("“", '"').replace("”", '"').replace("’", "'")
    return replace(copy, title=house_style(copy.title),
                   paras=tuple(Para(house_style(p.text), p.origin) for p in copy.paras))


EDITS: dict[str, tuple[float, Callable[[random.Random, Copy], Copy]]] = {
    # name: (probability per copy, edit)
    "headline": (0.8, rewrite_headline),
    "cut": (0.5, cut_last_paragraphs),
    "credit": (0.35, add_credit),
    "note": (0.25, add_editors_note),
    "intro": (0.35, add_intro_sentence),
    "spelling": (0.5, respell),
}


def edited(rng: random.Random, copy: Copy) -> Copy:
    applied = []
    for name, (probability, edit) in EDITS.items():
        if rng.random() < probability:
            copy = edit(rng, copy)
            applied.append(name)
    return replace(copy, edits=tuple(applied))


# --- outlet templates -----------------------------------------------------------------


@dataclass(frozen=True)
class Related:
    title: str
    teaser: str
    url: str


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _paras(copy: Copy, tag: str = "p") -> list[str]:
    return [f"<{tag}>{_esc(p.text)}</{tag}>" for p in copy.paras]


def _related_list(related: list[Related], with_teasers: bool = False) -> str:
    items = []
    for item in related:
        teaser = f"<p class='teaser'>{_esc(item.teaser)}</p>" if with_teasers else ""
        items.append(f"<li><a href='{item.url}'>{_esc(item.title)}</a>{teaser}</li>")
    return "<ul>" + "".join(items) + "</ul>"


def _with_inline_link(paragraphs: list[str], related: list[Related], label: str) -> list[str]:
    if len(paragraphs) < 4 or not related:
        return paragraphs
    first = related[0]
    link = f"<p><strong>{label}</strong> <a href='{first.url}'>{_esc(first.title)}</a></p>"
    middle = len(paragraphs) // 2
    return [*paragraphs[:middle], link, *paragraphs[middle:]]


def ledger(copy: Copy, url: str, related: list[Related], when: str) -> str:
    """A WordPress news theme: div soup, share buttons, related posts, comment form."""
    body = "\n".join(_with_inline_link(_paras(copy), related, "READ MORE:"))
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>{_esc(copy.title)} - The Daily Ledger</title>
<meta property="og:title" content="{_esc(copy.title)}"><link rel="canonical" href="{url}">
<meta property="article:published_time" content="{when}"></head><body class="single-post">
<div class="td-header"><ul class="menu"><li><a href="/">Home</a></li><li><a href="/world/">World</a>
</li><li><a href="/politics/">Politics</a></li><li><a href="/business/">Business</a></li>
<li><a href="/sport/">Sport</a></li></ul><div class="trending">Trending now:
<a href="{related[1].url}">{_esc(related[1].title)}</a></div></div>
<div class="td-post-content"><h1 class="entry-title">{_esc(copy.title)}</h1>
<div class="td-post-author">By Staff Writer · <time datetime="{when}">{when[:10]}</time></div>
<div class="td-social-sharing"><a href="#">Facebook</a> <a href="#">Twitter</a>
<a href="#">WhatsApp</a> <a href="#">Email</a></div>
<div class="entry-content">
{body}
</div>
<div class="td-social-sharing-bottom">Share this article: <a href="#">Facebook</a>
<a href="#">Twitter</a></div>
<div class="td-related"><h4>Related posts</h4>{_related_list(related[1:4])}</div>
<div id="respond" class="comment-respond"><h3>Leave a Reply</h3><form id="commentform">
<textarea name="comment" placeholder="Comment:"></textarea>
<input name="author" placeholder="Name:*">
<input name="email" placeholder="Email:*"><input type="submit" value="Post Comment"></form>
<div class="hidden">Please enter your comment! Please enter your name here.
You have entered an incorrect email address!</div></div></div>
<footer><p>© 2024 The Daily Ledger. All rights reserved.</p><ul><li><a href="/about">About us</a>
</li><li><a href="/contact">Contact</a></li><li><a href="/privacy">Privacy policy</a></li></ul>
</footer></body></html>"""


def metro(copy: Copy, url: str, related: list[Related], when: str) -> str:
    """Semantic HTML5 with a newsletter box inside the article and a related section."""
    paragraphs = _paras(copy)
    box = ("<aside class='newsletter'><h3>Get the Metro Wire briefing</h3><p>The day's "
           "essential stories, in your inbox every morning.</p><form><input type='email' "
           "placeholder='Your email'><button>Sign up</button></form></aside>")
    if len(paragraphs) > 3:
        paragraphs.insert(3, box)
    return f"""<!doctype html><html lang="en-GB"><head><meta charset="utf-8">
<title>{_esc(copy.title)} | Metro Wire</title><meta name="description" content="">
<meta property="article:published_time" content="{when}"></head><body>
<header><nav><a href="/">Metro Wire</a> <a href="/news">News</a> <a href="/uk">UK</a>
<a href="/world">World</a> <a href="/opinion">Opinion</a> <a href="/culture">Culture</a></nav>
<div class="cookie">We use cookies to improve your experience. <button>Accept</button></div>
</header><main><article><header><h1>{_esc(copy.title)}</h1>
<p class="byline">By <a rel="author" href="/staff">Metro Wire reporters</a></p>
<time datetime="{when}">{when[:10]}</time></header>
<figure><img src="/img/lead.jpg" alt=""><figcaption>Photograph: Agency</figcaption></figure>
{"".join(paragraphs)}
<footer class="share"><a href="#">Share on Facebook</a> <a href="#">Share on X</a>
<a href="#">Copy link</a></footer></article>
<section class="related"><h2>More on this story</h2>{_related_list(related[:3], True)}</section>
</main><footer><p>Metro Wire © 2024</p><a href="/terms">Terms</a> <a href="/help">Help</a>
</footer></body></html>"""


def herald(copy: Copy, url: str, related: list[Related], when: str) -> str:
    """Old-school layout: breaking ticker, most-read sidebar, tables, long footer."""
    most_read = "".join(f"<li>{i}. <a href='{r.url}'>{_esc(r.title)}</a></li>"
                        for i, r in enumerate(related[:4], 1))
    return f"""<html><head><title>{_esc(copy.title)}</title>
<meta name="date" content="{when}"></head><body>
<div id="ticker"><b>BREAKING:</b> <a href="{related[2].url}">{_esc(related[2].title)}</a></div>
<table width="100%"><tr><td id="nav"><a href="/">Coastal Herald</a> | <a href="/local">Local</a>
| <a href="/national">National</a> | <a href="/weather">Weather</a>
| <a href="/obits">Obituaries</a>
</td></tr></table>
<div id="content"><div class="story-head"><h2 class="headline">{_esc(copy.title)}</h2>
<span class="dateline">Posted {when[:10]}</span></div>
<div class="story-body">
{"".join(_paras(copy))}
</div>
<div class="tools"><a href="#">Print</a> | <a href="#">Email this story</a> |
<a href="#">Report a typo</a></div></div>
<div id="sidebar"><h3>Most read</h3><ol>{most_read}</ol>
<div class="ad">Advertisement</div></div>
<div id="footer"><p>Coastal Herald, 12 Harbour Road. Tel 555 0100.</p>
<p>Copyright 2024 Coastal Herald Media. Reproduction without permission prohibited.</p>
<a href="/subscribe">Subscribe</a> <a href="/advertise">Advertise</a></div></body></html>"""


def capital(copy: Copy, url: str, related: list[Related], when: str) -> str:
    """A modern CMS with JSON-LD, inline read-more links, trending and a comments bar."""
    body = "\n".join(_with_inline_link(_paras(copy), related[1:], "Related:"))
    data = json.dumps({"@context": "https://schema.org", "@type": "NewsArticle",
                       "headline": copy.title, "datePublished": when,
                       "publisher": {"@type": "Organization", "name": "Capital Post"}})
    trending = "".join(f"<a class='card' href='{r.url}'>{_esc(r.title)}</a>" for r in related[:3])
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>{_esc(copy.title)}</title><script type="application/ld+json">{data}</script></head>
<body><div class="topbar"><a href="/">CAPITAL POST</a><span>Subscribe for $1</span>
<a href="/login">Sign in</a></div><nav class="sections"><a href="/politics">Politics</a>
<a href="/economy">Economy</a><a href="/tech">Tech</a><a href="/climate">Climate</a></nav>
<div class="layout"><div class="article-wrap"><h1 class="article-headline">{_esc(copy.title)}</h1>
<div class="meta">Published <time datetime="{when}">{when[:10]}</time></div>
<div class="article-body">
{body}
</div>
<div class="comments-bar">23 Comments <a href="#comments">Join the conversation</a></div>
</div><aside class="trending"><h3>Trending</h3>{trending}</aside></div>
<footer><nav><a href="/about">About</a><a href="/ethics">Ethics policy</a>
<a href="/careers">Careers</a></nav><p>© Capital Post 2024</p></footer></body></html>"""


def valley(copy: Copy, url: str, related: list[Related], when: str) -> str:
    """A local paper: paywall wrapper, tags, newsletter form, teaser cards of other stories."""
    cards = "".join(f"<div class='card'><a href='{r.url}'><h4>{_esc(r.title)}</h4></a>"
                    f"<p>{_esc(r.teaser)}</p></div>" for r in related[:3])
    return f"""<!DOCTYPE html><html lang="en-US"><head><meta charset="utf-8">
<title>{_esc(copy.title)} - Valley Times</title>
<meta property="og:type" content="article">
<meta property="article:published_time" content="{when}"></head><body>
<div class="masthead"><a href="/">Valley Times</a><ul><li><a href="/news">News</a></li>
<li><a href="/sports">Sports</a></li><li><a href="/opinion">Opinion</a></li>
<li><a href="/events">Events</a></li></ul></div>
<div class="story"><h1>{_esc(copy.title)}</h1><div class="byline">Valley Times staff</div>
<div class="paywall" data-free="3">
{"".join(_paras(copy))}
</div>
<div class="tags">Tags: <a href="/tag/news">news</a> <a href="/tag/region">region</a></div>
<div class="signup"><h3>Sign up for our newsletter</h3><p>Get local news delivered to your
inbox.</p><input type="email"><button>Subscribe</button></div></div>
<div class="more"><h3>You may also like</h3>{cards}</div>
<div class="footer">Valley Times · 400 Main St · <a href="/contact">Contact us</a> ·
<a href="/corrections">Corrections</a></div></body></html>"""


@dataclass(frozen=True)
class Outlet:
    name: str
    host: str
    render: Callable[[Copy, str, list[Related], str], str]


OUTLETS = [
    Outlet("The Daily Ledger", "dailyledger.example", ledger),
    Outlet("Metro Wire", "metrowire.example", metro),
    Outlet("Coastal Herald", "coastalherald.example", herald),
    Outlet("Capital Post", "capitalpost.example", capital),
    Outlet("Valley Times", "valleytimes.example", valley),
]


def _slug(title: str) -> str:
    return "-".join(re.findall(r"\w+", title.lower())[:8]) or "story"


# --- building the set ---------------------------------------------------------------

COPIES_PER_STORY = 4
BACKGROUND_PAIRS = 40
# A background paragraph is a paragraph of ordinary length, shared by articles long
# enough to have background (wire copy's "X invaded Y in 2022, ..." lines).
BACKGROUND_WORDS = (25, 70)
BACKGROUND_MIN_ARTICLE_WORDS = 150


@dataclass
class LabelledSet:
    name: str
    pages: list[Page] = field(default_factory=list)


def related_for(rng: random.Random, sources: list[Original], story: str) -> list[Related]:
    others = [s for s in sources if s.key != story]
    picked = rng.sample(others, 4)
    return [Related(s.title, s.paragraphs[0][:160], f"https://example.test/{_slug(s.title)}")
            for s in picked]


def render_page(rng: random.Random, sources: list[Original], story: str, outlet: Outlet,
                copy: Copy, number: int, kind: str = "copy") -> Page:
    url = f"https://{outlet.host}/2024/06/{_slug(copy.title)}-{number}"
    when = f"2024-06-18T09:{number % 60:02d}:00+00:00"
    html = outlet.render(copy, url, related_for(rng, sources, story), when)
    origins = frozenset(p.origin for p in copy.paras if p.origin is not None)
    return Page(story, outlet.name, url, html, origins, copy.edits, kind)


def original_page(source: Original) -> Page:
    origins = frozenset((source.key, i) for i in range(len(source.paragraphs)))
    assert source.html is not None
    return Page(source.key, "original", source.url, source.html, origins, (), "original")


def build_set(name: str, sources: list[Original], rng: random.Random) -> LabelledSet:
    labelled = LabelledSet(name)
    number = itertools.count(1)
    for source in sources:
        if source.html is not None:
            labelled.pages.append(original_page(source))
        for outlet in rng.sample(OUTLETS, COPIES_PER_STORY):
            copy = edited(rng, as_copy(source))
            labelled.pages.append(render_page(rng, sources, source.key, outlet, copy,
                                              next(number)))
    labelled.pages.extend(background_pages(sources, rng, number))
    return labelled


def _background_paragraphs(sources: list[Original]) -> list[Para]:
    low, high = BACKGROUND_WORDS
    return [Para(text, (source.key, i)) for source in sources
            for i, text in enumerate(source.paragraphs[1:], 1)
            if low <= len(text.split()) <= high]


def background_pages(sources: list[Original], rng: random.Random,
                     number: Iterator[int]) -> list[Page]:
    """Articles with one paragraph of another story inserted: the variant belongs to
    its own story and must not merge with the paragraph's story. Half the time the same
    paragraph goes into two articles, which then share it with each other as well."""
    hosts = [s for s in sources if len(s.paragraphs) >= 4
             and sum(len(p.split()) for p in s.paragraphs) >= BACKGROUND_MIN_ARTICLE_WORDS]
    paragraphs = _background_paragraphs(sources)
    pages = []
    for _ in range(BACKGROUND_PAIRS):
        shared = rng.choice(paragraphs)
        receivers = [s for s in rng.sample(hosts, 2) if s.key != shared.origin[0]]
        for source in receivers[: 1 + (rng.random() < 0.5)]:
            copy = as_copy(source)
            where = rng.randrange(2, len(copy.paras))
            copy = replace(copy, paras=(*copy.paras[:where], shared, *copy.paras[where:]),
                           edits=("background",))
            pages.append(render_page(rng, sources, source.key, rng.choice(OUTLETS), copy,
                                     next(number), "background"))
    return pages


# --- generated articles (text not from the shared set) --------------------------------

FIRST = ["Amara", "Bruno", "Chiara", "Dmitri", "Elif", "Farid", "Greta", "Hugo", "Ines", "Jonas",
         "Keiko", "Luca", "Mei", "Nadia", "Oskar", "Paula", "Quentin", "Rania", "Stefan", "Tariq",
         "Ulla", "Victor", "Wanjiru", "Xavier", "Yusuf", "Zofia"]
LAST = ["Abbott", "Brennan", "Castillo", "Dahl", "Eriksen", "Fontaine", "Grauer", "Haddad",
        "Iversen", "Jankowski", "Kovac", "Lindgren", "Moreau", "Nakamura", "Osei", "Petrakis",
        "Quiroga", "Rahman", "Sorensen", "Tanaka", "Ulrich", "Varga", "Whitfield", "Yilmaz"]
PLACES = ["Arden", "Belmont", "Corvale", "Dunmore", "Eastwick", "Fairhaven", "Glenrock",
          "Highmoor", "Ironbridge", "Kestrel Bay", "Lowmarsh", "Millbrook", "Northgate",
          "Oakridge", "Port Elwin", "Redcliff", "Saltmere", "Thornbury", "Upton Vale", "Westfell"]
ORGS = ["the regional council", "the transport authority", "the health ministry",
        "the port operator", "the central bank", "the teachers' union", "the water board",
        "the energy regulator", "the appeals court", "the city police", "the farmers' cooperative",
        "the football federation", "the housing agency", "the election commission",
        "the chamber of commerce", "the fire service", "the university", "the rail company"]
ROLES = ["minister", "spokesperson", "chief executive", "mayor", "director", "chair", "treasurer",
         "senior economist", "union leader", "prosecutor", "coach", "analyst", "lawmaker",
         "deputy mayor", "head of planning", "board member", "ombudsman", "chief engineer"]
EVENTS = ["flood defences", "rail strike", "budget vote", "hospital closure", "bridge repair",
          "fishing quota", "tax reform", "school funding", "wind farm", "bus fares",
          "water shortage", "stadium plan", "housing scheme", "port expansion", "price cap",
          "airport runway", "library cuts", "tram extension", "recycling contract", "pay deal"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "March", "April", "June", "September", "October", "November"]
SAID = ["said", "told reporters", "warned", "argued", "insisted", "conceded", "suggested",
        "confirmed", "claimed", "acknowledged", "predicted", "said in a statement",
        "told a news conference", "wrote in a letter to residents", "told local radio"]
WHEN = ["on {day}", "late on {day}", "earlier this week", "last month", "on {day} morning",
        "in {month}", "at a hearing on {day}", "after a meeting on {day}"]
ACTIONS = [("approve", "approved"), ("delay", "delayed"), ("review", "reviewed"),
           ("block", "blocked"), ("fund", "funded"), ("expand", "expanded"), ("scrap", "scrapped"),
           ("reconsider", "reconsidered"), ("investigate", "investigated"),
           ("support", "supported"), ("oppose", "opposed"), ("challenge", "challenged"),
           ("postpone", "postponed"), ("publish", "published"), ("cut", "cut"),
           ("extend", "extended"), ("restrict", "restricted"), ("overhaul", "overhauled")]
MODALS = ["would", "could", "might", "was planning to", "is expected to", "has refused to",
          "will need to", "should", "had agreed to", "may yet"]
ADJ = ["sharp", "modest", "unexpected", "long-awaited", "controversial", "temporary", "costly",
       "significant", "limited", "rapid", "fresh", "overdue", "disputed", "ambitious",
       "scaled-back", "emergency", "independent", "detailed", "confidential", "revised"]
NOUNS = ["delays", "costs", "protests", "savings", "job losses", "complaints", "repairs",
         "shortages", "investments", "inspections", "closures", "price rises", "subsidies",
         "fines", "contracts", "objections", "staff cuts", "safety checks", "grants", "tariffs"]
OBJECTS = ["the {event}", "plans for the {event}", "the {adj} {noun}", "{num} new {noun}",
           "a {adj} report on {noun}", "its decision on the {event}", "funding for the {event}",
           "the {adj} proposal", "talks over {noun}", "the terms of the {event}"]
MODIFIERS = ["in {place}", "before the end of the year", "despite {adj} opposition",
             "after {num} weeks of talks", "", "", "by {month}", "without a public consultation",
             "unless {org} steps in", "while {noun} continue", "for at least {num} months"]


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def _subject(rng: random.Random, topic: dict[str, str]) -> str:
    person = topic["person"] if rng.random() < 0.5 else _person(rng)
    org = topic["org"] if rng.random() < 0.5 else rng.choice(ORGS)
    return rng.choice([person, f"{rng.choice(ROLES)} {person}", f"the {rng.choice(ROLES)} of {org}",
                       org, f"officials in {topic['place']}", f"{rng.randint(12, 900)} residents",
                       f"critics of the {topic['event']}", f"a spokesperson for {org}"])


def _fill(rng: random.Random, pattern: str, topic: dict[str, str]) -> str:
    return pattern.format(day=rng.choice(DAYS), month=rng.choice(MONTHS), event=topic["event"],
                          adj=rng.choice(ADJ), noun=rng.choice(NOUNS), place=topic["place"],
                          num=rng.randint(2, 95), org=rng.choice(ORGS))


def _clause(rng: random.Random, topic: dict[str, str], past: bool = False) -> str:
    base, past_form = rng.choice(ACTIONS)
    verb = past_form if past else f"{rng.choice(MODALS)} {base}"
    parts = [_subject(rng, topic), verb, _fill(rng, rng.choice(OBJECTS), topic),
             _fill(rng, rng.choice(MODIFIERS), topic)]
    return " ".join(part for part in parts if part)


def _capitalised(text: str) -> str:
    return text[0].upper() + text[1:]


def _sentence(rng: random.Random, topic: dict[str, str]) -> str:
    """One sentence of plain news prose, composed from small parts so that two articles
    rarely share five words in a row unless they share a fact."""
    kind = rng.randrange(4)
    if kind == 0:
        when = _fill(rng, rng.choice(WHEN), topic)
        return _capitalised(f"{_subject(rng, topic)} {rng.choice(SAID)} {when} that "
                            f"{_clause(rng, topic)}.")
    if kind == 1:
        return f'"{_capitalised(_clause(rng, topic))}," {_person(rng)} {rng.choice(SAID)}.'
    if kind == 2:
        return _capitalised(f"{_fill(rng, rng.choice(WHEN), topic)}, "
                            f"{_clause(rng, topic, past=True)}.")
    noun = rng.choice(NOUNS)
    return (f"Figures from {rng.choice(ORGS)} show {noun} in {topic['place']} "
            f"{rng.choice(['rose', 'fell', 'doubled', 'held steady'])} "
            f"{_fill(rng, rng.choice(['by {num} per cent', 'to {num} million', '']), topic)} "
            f"{rng.choice(['last year', 'this spring', 'over the past decade', 'since 2019'])}.")


def _topic(rng: random.Random) -> dict[str, str]:
    return {"person": _person(rng), "org": rng.choice(ORGS), "event": rng.choice(EVENTS),
            "place": rng.choice(PLACES)}


def generated_article(rng: random.Random, key: str, topic: dict[str, str],
                      paragraphs: tuple[int, int] = (4, 16)) -> Original:
    count = rng.randint(*paragraphs)
    body = tuple(" ".join(_sentence(rng, topic) for _ in range(rng.randint(1, 3)))
                 for _ in range(count))
    title = (f"{topic['place']} {topic['event']}: {topic['person']} "
             f"{rng.choice(SAID).split()[0]} over {rng.choice(ADJ)} {rng.choice(NOUNS)}")
    return Original(key, title, body)


def generated_sources(rng: random.Random, topics: int = 25, per_topic: int = 3) -> list[Original]:
    """Several articles per topic: follow-ups sharing names, places and the event."""
    sources = []
    for t in range(topics):
        topic = _topic(rng)
        sources.extend(generated_article(rng, f"gen{t}_{a}", topic) for a in range(per_topic))
    return sources


# --- running the pipeline -------------------------------------------------------------


def extract_pages(pages: list[Page]) -> float:
    """Run the project's extractor on each page; returns seconds per page."""
    start = time.perf_counter()
    for page in pages:
        result = extract_article(page.html, page.url)
        page.title, page.body = result.title or "", result.body or ""
    return (time.perf_counter() - start) / max(len(pages), 1)


def new_database(directory: Path, name: str) -> str:
    url = f"sqlite:///{directory / name}"
    engine = make_engine(url)
    upgrade_database(engine)
    engine.dispose()
    return url


@dataclass
class Timing:
    story_for: float = 0.0
    storing: float = 0.0  # inside story_for: inserting the article row and its band rows
    saves: float = 0.0
    count: int = 0


@contextmanager
def timed(module: ModuleType, name: str, timing: Timing, field_name: str) -> Iterator[None]:
    """Add the time spent in `module.name` to `timing.field_name` while inside."""
    real = getattr(module, name)

    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            setattr(timing, field_name, getattr(timing, field_name) + time.perf_counter() - start)
    setattr(module, name, wrapper)
    try:
        yield
    finally:
        setattr(module, name, real)


def store_pages(database_url: str, pages: list[Page], rng: random.Random) -> Timing:
    """Save the pages in random order through ArticleStore (hence story_for)."""
    store = ArticleStore(database_url)
    source_ids = _source_ids(store, {page.outlet for page in pages})
    timing = Timing()
    with (timed(crawler.stories.StoryAssigner, "__init__", timing, "story_for"),
          timed(crawler.stories.StoryAssigner, "assign", timing, "story_for"),
          timed(crawler.stories, "_insert_article", timing, "storing"),
          timed(crawler.stories, "_index_bands", timing, "storing")):
        for page in rng.sample(pages, len(pages)):
            item = ArticleItem(source_ids[page.outlet], page.url, page.title, page.body)
            start = time.perf_counter()
            store.save_article(item)
            timing.saves += time.perf_counter() - start
            timing.count += 1
    store.close()
    return timing


def _source_ids(store: ArticleStore, outlets: set[str]) -> dict[str, int]:
    with store.sessions.begin() as session:
        for outlet in sorted(outlets):
            if session.scalar(select(Source.id).where(Source.name == outlet)) is None:
                session.add(Source(name=outlet, url=f"https://{_slug(outlet)}.example/feed"))
    with store.sessions() as session:
        return {name: source_id for name, source_id in
                session.execute(select(Source.name, Source.id))}


def predicted_stories(database_url: str, pages: list[Page]) -> dict[str, int]:
    engine = make_engine(database_url)
    with engine.connect() as connection:
        by_url = {url: story_id for url, story_id in
                  connection.execute(select(Article.url, Article.story_id))}
    engine.dispose()
    return {page.url: by_url[page.url] for page in pages}


# --- background index -----------------------------------------------------------------


def fill_background(database_url: str, count: int, rng: random.Random) -> float:
    """Insert `count` generated articles, each its own story, with the signature and
    bands story_for would give them, in bulk; returns seconds taken. Their text is drawn
    from a pool of generated sentences (each sentence recurs in a few dozen articles,
    like stock phrases), so chance candidates are those of a real index."""
    start = time.perf_counter()
    engine = make_engine(database_url)
    now = _database_time(engine, datetime.now(UTC))
    pool = [_sentence(rng, _topic(rng)) for _ in range(max(count // 5, 100))]
    with engine.begin() as connection:
        # A big page cache for the load: the band index takes random inserts.
        connection.exec_driver_sql("PRAGMA cache_size=-262144")
        connection.execute(insert(Source), [{"id": 1, "name": "background",
                                             "url": "https://background.example/feed"}])
        for first in range(1, count + 1, 5000):
            rows = [_background_rows(rng, pool, number, now)
                    for number in range(first, min(first + 5000, count + 1))]
            connection.exec_driver_sql(
                "INSERT INTO stories (id, headline, first_seen_at, last_seen_at) "
                "VALUES (?, ?, ?, ?)", [row[0] for row in rows])
            connection.exec_driver_sql(
                "INSERT INTO articles (id, source_id, url, url_hash, title, body, authors, "
                "content_hash, story_id, signature, version, from_feed, first_seen_at) "
                "VALUES (?, 1, ?, ?, ?, ?, '[]', ?, ?, ?, 1, 0, ?)", [row[1] for row in rows])
            connection.exec_driver_sql(
                "INSERT INTO story_bands (band, article_id, created_at) VALUES (?, ?, ?)",
                [band for row in rows for band in row[2]])
    engine.dispose()
    return time.perf_counter() - start


def _database_time(engine: Engine, moment: datetime) -> str:
    """`moment` as SQLAlchemy writes it into a timestamp column of this database."""
    column_type = StoryBand.__table__.c.created_at.type
    processor = column_type.dialect_impl(engine.dialect).bind_processor(engine.dialect)
    return processor(moment) if processor else str(moment)


def _background_rows(rng: random.Random, pool: list[str], number: int,
                     now: str) -> tuple[tuple, tuple, list[tuple]]:
    paragraphs = [" ".join(rng.choices(pool, k=rng.randint(1, 3)))
                  for _ in range(rng.randint(3, 6))]
    body, title = "\n".join(paragraphs), paragraphs[0][:80]
    signature = dedup.fingerprint(body).signature
    assert signature is not None
    story = (number, title, now, now)
    url = f"https://background.example/{number}"
    article = (number, url, url_digest(url), title, body,
               content_hash(body), number, dedup.signature_to_bytes(signature), now)
    bands = [(band, number, now) for band in dedup.band_hashes(signature)]
    return story, article, bands


# --- scoring ----------------------------------------------------------------------------


@dataclass
class Score:
    pages: int
    precision: float
    recall: float
    true_pairs: int
    merged_pairs: int
    hard_negative_pairs: int
    hard_negative_merges: int
    background_merges: int
    missed: list[tuple[Page, Page]]
    wrong: list[tuple[Page, Page]]


def is_hard_negative(a: Page, b: Page) -> bool:
    return a.story != b.story and (a.outlet == b.outlet or bool(a.origins & b.origins))


def score(pages: list[Page], predicted: dict[str, int], background: int) -> Score:
    true_pairs = merged = correct = hard = hard_merged = 0
    missed, wrong = [], []
    for a, b in itertools.combinations(pages, 2):
        same_truth = a.story == b.story
        same_predicted = predicted[a.url] == predicted[b.url]
        true_pairs += same_truth
        merged += same_predicted
        correct += same_truth and same_predicted
        if is_hard_negative(a, b):
            hard += 1
            hard_merged += same_predicted
        if same_truth and not same_predicted:
            missed.append((a, b))
        if same_predicted and not same_truth:
            wrong.append((a, b))
    into_background = sum(1 for page in pages if predicted[page.url] <= background)
    return Score(len(pages), correct / merged if merged else 1.0,
                 correct / true_pairs if true_pairs else 1.0, true_pairs, merged, hard,
                 hard_merged, into_background, missed, wrong)


def _describe(page: Page) -> str:
    words = len(page.body.split())
    return f"{page.story}@{page.outlet}[{','.join(page.edits) or page.kind}, {words}w]"


def print_score(name: str, result: Score, timing: Timing | None, extract_ms: float) -> None:
    print(f"\n== {name}: {result.pages} pages, {result.true_pairs} same-story pairs, "
          f"{result.hard_negative_pairs} hard-negative pairs")
    print(f"precision {result.precision:.4f} (target {TARGET_PRECISION})   "
          f"recall {result.recall:.4f} (target {TARGET_RECALL})")
    print(f"hard-negative merges: {result.hard_negative_merges}   "
          f"merged into a background article: {result.background_merges}")
    print(f"extraction: {extract_ms:.1f} ms/page")
    if timing is not None and timing.count:
        per = 1000 / timing.count
        dedup_only = timing.story_for - timing.storing
        print(f"dedup stage: {timing.count / timing.story_for:.0f} articles/s through story_for "
              f"({timing.story_for * per:.1f} ms/article, of which {timing.storing * per:.1f} ms "
              "flushing the article row and its band rows)")
        print(f"  dedup work alone (fingerprint, candidate query, verification): "
              f"{timing.count / dedup_only:.0f} articles/s ({dedup_only * per:.1f} ms/article); "
              f"whole save_article: {timing.count / timing.saves:.0f} articles/s")
    for label, pairs in (("missed", result.missed), ("wrongly merged", result.wrong)):
        for a, b in pairs[:8]:
            print(f"  {label}: {_describe(a)} ~ {_describe(b)}")
        if len(pairs) > 8:
            print(f"  ... and {len(pairs) - 8} more {label} pairs")


# --- the sweep: measurements behind the parameters --------------------------------------


def _pairs(pages: list[Page]) -> tuple[list[tuple[Page, Page]], list[tuple[Page, Page]],
                                       list[tuple[Page, Page]]]:
    positives, hard, others = [], [], []
    for a, b in itertools.combinations(pages, 2):
        if a.story == b.story:
            positives.append((a, b))
        elif is_hard_negative(a, b):
            hard.append((a, b))
        else:
            others.append((a, b))
    return positives, hard, others


def _containment(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    if not len(a) or not len(b):
        return 0.0, 0.0
    shared = len(np.intersect1d(a, b, assume_unique=True))
    return shared / (len(a) + len(b) - shared), shared / min(len(a), len(b))


def _shingle_set(hashes: np.ndarray, size: int = dedup.SHINGLE_WORDS) -> np.ndarray:
    return np.unique(dedup.shingle_sequence(hashes, size))


def sweep(pages: list[Page], rng: random.Random) -> None:
    positives, hard, others = _pairs(pages)
    others = rng.sample(others, min(len(others), 20000))
    print(f"\n-- sweep on {len(pages)} pages: {len(positives)} true pairs, {len(hard)} hard "
          f"negatives, {len(others)} sampled other pairs")
    words = {page.url: dedup.word_hashes(dedup.tokens(page.body)) for page in pages}
    print("\nverification: containment of the shorter text by shingle size "
          "(true pairs below / hard negatives at or above threshold)")
    for size in (3, 4, 5, 6, 7):
        sets = {url: _shingle_set(w, size) for url, w in words.items()}
        pos = np.array([_containment(sets[a.url], sets[b.url])[1] for a, b in positives])
        neg = np.array([_containment(sets[a.url], sets[b.url])[1] for a, b in hard])
        cells = "  ".join(f"t={t:.2f}: {int((pos < t).sum())}/{int((neg >= t).sum())}"
                          for t in (0.3, 0.4, 0.5, 0.6, 0.7))
        print(f"  k={size}: max negative {neg.max():.3f}, 1st pct positive "
              f"{np.percentile(pos, 1):.3f} | {cells}")
    sets = {url: _shingle_set(w) for url, w in words.items()}
    _sweep_lsh(words, positives, others)
    _sweep_simhash(sets, positives, others)


# Candidate schemes: one or more MinHash signatures, each (lead words or None for the
# whole body, bands, rows per band); a pair is a candidate if any band of any matches.
LSH_SCHEMES: list[list[tuple[int | None, int, int]]] = [
    [(300, 16, 4)], [(300, 32, 4)], [(200, 20, 3)], [(None, 32, 2)], [(300, 32, 2)],
    [(150, 32, 2)], [(100, 16, 4), (400, 16, 4)], [(100, 16, 3), (400, 16, 3)],
    [(80, 16, 3), (300, 16, 3)], [(60, 12, 3), (150, 12, 3), (400, 12, 3)],
    [(100, 20, 3), (400, 20, 3)], [(100, 16, 3), (None, 16, 3)], [(120, 16, 3), (500, 16, 3)],
]


def _sweep_lsh(words: dict[str, np.ndarray], positives: list[tuple[Page, Page]],
               others: list[tuple[Page, Page]]) -> None:
    print("\ncandidates: expected LSH recall over true pairs, expected chance candidates per "
          "new article with 1M stored (from the exact Jaccard of the MinHashed shingles)")
    jaccards: dict[int | None, tuple[np.ndarray, np.ndarray]] = {}
    for scheme in LSH_SCHEMES:
        miss_pos, miss_neg = 1.0, 1.0
        for lead, bands, rows in scheme:
            if lead not in jaccards:
                sets = {url: _shingle_set(w[:lead] if lead else w) for url, w in words.items()}
                jaccards[lead] = (
                    np.array([_containment(sets[a.url], sets[b.url])[0] for a, b in positives]),
                    np.array([_containment(sets[a.url], sets[b.url])[0] for a, b in others]))
            jp, jn = jaccards[lead]
            miss_pos = miss_pos * (1 - jp**rows) ** bands
            miss_neg = miss_neg * (1 - jn**rows) ** bands
        label = " + ".join(f"{f'lead {lead}' if lead else 'body'}: b={b},r={r}"
                           for lead, b, r in scheme)
        stored = sum(b for _, b, _ in scheme)
        print(f"  {label:<42} {stored:3d} rows/article  recall {(1 - miss_pos).mean():.4f}"
              f"  chance {(1 - miss_neg).mean() * 1_000_000:8.1f}")


def _simhash(hashes: np.ndarray) -> int:
    bits = ((hashes[:, None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)).astype(np.int32)
    votes = (2 * bits - 1).sum(axis=0)
    return int(sum(1 << i for i in range(64) if votes[i] > 0))


def _sweep_simhash(sets: dict[str, np.ndarray], positives: list[tuple[Page, Page]],
                   others: list[tuple[Page, Page]]) -> None:
    prints = {url: _simhash(s) if len(s) else 0 for url, s in sets.items()}
    pos = np.array([(prints[a.url] ^ prints[b.url]).bit_count() for a, b in positives])
    neg = np.array([(prints[a.url] ^ prints[b.url]).bit_count() for a, b in others])
    print("\nSimHash (64 bits over the same shingles): share of true pairs / other pairs "
          "within Hamming distance d")
    print("  " + "  ".join(f"d<={d}: {(pos <= d).mean():.3f}/{(neg <= d).mean():.4f}"
                           for d in (3, 6, 10, 16)))


# --- main ---------------------------------------------------------------------------------


def run_set(labelled: LabelledSet, database_url: str, rng: random.Random,
            background: int) -> None:
    extract_s = extract_pages(labelled.pages)
    timing = store_pages(database_url, labelled.pages, rng)
    predicted = predicted_stories(database_url, labelled.pages)
    print_score(labelled.name, score(labelled.pages, predicted, background), timing,
                extract_s * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--background", type=int, default=100_000,
                        help="articles already indexed when the fundus set is stored")
    parser.add_argument("--sweep", action="store_true",
                        help="print the measurements behind the parameters instead")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    fundus = build_set("fundus (real articles from ../shared)", load_fundus(args.data), rng)
    generated = build_set("generated (text not from the shared set)",
                          generated_sources(random.Random(args.seed + 1)), rng)
    if args.sweep:
        for labelled in (fundus, generated):
            extract_pages(labelled.pages)
            print(f"\n=== {labelled.name}")
            sweep(labelled.pages, rng)
        return
    _print_edit_counts(fundus.pages + generated.pages)
    print(f"method: {dedup.SHINGLE_WORDS}-word shingles, MinHash of lead windows "
          f"{dedup.LEADS} in {dedup.BANDS_PER_LEAD} bands x {dedup.BAND_ROWS} rows each, "
          f"containment >= {dedup.MIN_CONTAINMENT}; window {crawler.stories.WINDOW.days} days, "
          f"<= {crawler.stories.MAX_CANDIDATES} candidates verified")
    with tempfile.TemporaryDirectory() as directory:
        big = new_database(Path(directory), "fundus.db")
        print(f"indexing {args.background} background articles ...", flush=True)
        seconds = fill_background(big, args.background, random.Random(args.seed + 2))
        print(f"indexed {args.background} background articles in {seconds:.0f} s")
        run_set(fundus, big, rng, args.background)
        run_set(generated, new_database(Path(directory), "generated.db"), rng, 0)


def _print_edit_counts(pages: list[Page]) -> None:
    counts = Counter(edit for page in pages for edit in page.edits)
    kinds = Counter(page.kind for page in pages)
    print("pages: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) +
          "; edits: " + ", ".join(f"{name} {counts[name]}" for name in [*EDITS, "background"]))


if __name__ == "__main__":
    main()
