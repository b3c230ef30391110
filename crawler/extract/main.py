"""Pick the page's own story when it carries several full articles ("next story" blocks).

The main one is the article whose heading agrees with what the page says about itself
(its title, JSON-LD headline and URL), not the longest; the others are removed from the
working copy before the content extractor runs.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from lxml.html import HtmlElement

from crawler.extract.metadata import lenient

# An <article> with at least this much paragraph text is a full story, not a teaser.
_FULL_STORY_CHARS = 400
_HEADINGS = ("h1", "h2", "h3")
_SLUG_WORD = re.compile(r"[^\W\d_]{3,}")


def _full_stories(body: HtmlElement) -> list[HtmlElement]:
    """Outermost <article> elements holding a story's worth of paragraph text."""
    found = []
    for article in body.iter("article"):
        if any(ancestor.tag == "article" for ancestor in article.iterancestors()):
            continue
        if sum(len(p.text_content()) for p in article.iter("p")) >= _FULL_STORY_CHARS:
            found.append(article)
    return found


def _heading(article: HtmlElement) -> str:
    for tag in _HEADINGS:
        for heading in article.iter(tag):
            text = lenient(heading.text_content())
            if text:
                return text
    return ""


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a) if a else 0.0


def _agreement(article: HtmlElement, names: list[str], slug: set[str]) -> float:
    heading = _heading(article)
    if not heading:
        return 0.0
    words = set(heading.split())
    best = max((_overlap(set(name.split()), words) for name in names if name), default=0.0)
    return best + _overlap(slug, words)


def _slug_words(url: str) -> set[str]:
    path = unquote(urlsplit(url).path).lower()
    return set(_SLUG_WORD.findall(path.rsplit("/", 2)[-1] or path))


def isolate_main_article(tree: HtmlElement, url: str, *titles: str | None) -> None:
    """Remove, in place, the full articles whose heading does not name the page's story,
    when one of several agrees better with the page's title, headline and URL."""
    body = tree.find("body")
    if body is None:
        return
    stories = _full_stories(body)
    if len(stories) < 2:
        return
    names = [lenient(title) for title in titles if title]
    scores = [_agreement(story, names, _slug_words(url)) for story in stories]
    best = max(scores)
    if best <= 0 or scores.count(best) > 1:
        return
    for story, score in zip(stories, scores, strict=True):
        if score < best and story.getparent() is not None:
            story.getparent().remove(story)
