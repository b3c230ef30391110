"""Remove page furniture that main-content extractors let through, before they run.

Decisions rest on markup conventions shared across sites (hidden elements, captions,
class names such as "related" or "newsletter"), never on a particular publisher. An
element that holds most of the page's paragraph text is never removed, whatever its
class says: that is the article, however oddly it is labelled.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import pairwise

from lxml.html import HtmlElement

# Class/id words (split on punctuation and camelCase) that mark non-article furniture.
BOILERPLATE_WORDS = frozenset((
    "bio", "biography", "authorbio", "comment", "comments", "commentlist", "respond",
    "disqus", "related", "recirc", "recirculation", "popular", "trending", "mostread",
    "outbrain", "taboola", "newsletter", "newsletters", "subscribe", "subscription", "signup",
    "promo", "promos", "cta", "advert", "advertisement", "sponsored", "share", "sharing",
    "sharebar", "social", "collection", "collections", "teaser", "teasers",
    "breadcrumb", "breadcrumbs", "caption", "captions", "credit", "credits",
))
# Word pairs that only mean furniture together ("read more", "author info").
BOILERPLATE_PAIRS = frozenset(
    {("read", "more"), ("more", "from"), ("most", "read"), ("author", "info"),
     ("about", "author"), ("sign", "up"), ("you", "might"), ("also", "like")}
)
FURNITURE_TAGS = ("aside", "nav", "form", "button", "dialog", "template", "figcaption",
                  "figure", "select", "textarea", "noscript")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_NON_WORD = re.compile(r"[^a-z0-9]+")
# An element holding this share of the page's paragraph text, or this many paragraphs
# of running prose, is treated as (part of) the article whatever its class says:
# broken markup often leaves story paragraphs nested inside a promo box.
_ARTICLE_SHARE = 0.5
_PROSE_PARAGRAPHS = 3
_PROSE_CHARS = 150
# A <form> holding this share of the page's text wraps the whole page (ASP.NET sites):
# it is a container to look into, not a form to drop.
_WRAPPER_SHARE = 0.5


def class_words(element: HtmlElement) -> list[str]:
    raw = f"{element.get('class') or ''} {element.get('id') or ''}"
    if raw == " ":
        return []
    return list(_split_class(raw))


@lru_cache(maxsize=4096)
def _split_class(raw: str) -> tuple[str, ...]:
    """Class and id words; cached, as a page repeats the same class strings many times."""
    if not raw.islower():
        raw = _CAMEL.sub(" ", raw).lower()
    return tuple(w for w in _NON_WORD.split(raw) if w)


@lru_cache(maxsize=4096)
def _furniture_words(raw: str) -> bool:
    words = _split_class(raw)
    return any(w in BOILERPLATE_WORDS for w in words) or any(
        pair in BOILERPLATE_PAIRS for pair in pairwise(words)
    )


def _is_hidden(element: HtmlElement) -> bool:
    return (
        element.get("hidden") is not None
        or (element.get("aria-hidden") == "true" and element.tag not in ("span", "i", "svg"))
        or bool(_HIDDEN_STYLE.search(element.get("style") or ""))
    )


def is_furniture(element: HtmlElement) -> bool:
    """True when markup says this element is not part of the story text."""
    if element.tag in FURNITURE_TAGS or _is_hidden(element):
        return True
    raw = f"{element.get('class') or ''} {element.get('id') or ''}"
    return raw != " " and _furniture_words(raw)


def _paragraph_lengths(element: HtmlElement) -> list[int]:
    return [len(p.text_content()) for p in element.iter("p")]


def _holds_article(element: HtmlElement, page_chars: int) -> bool:
    lengths = _paragraph_lengths(element)
    prose = sum(1 for n in lengths if n >= _PROSE_CHARS)
    return sum(lengths) >= page_chars * _ARTICLE_SHARE or prose >= _PROSE_PARAGRAPHS


def _remove(element: HtmlElement) -> None:
    """Drop an element but keep its tail text, which belongs to the parent."""
    parent = element.getparent()
    if parent is None:
        return
    if element.tail and element.tail.strip():
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)


def _text_length(element: HtmlElement) -> int:
    return sum(len(text.strip()) for text in element.itertext(with_tail=False))


def unwrap_page_forms(body: HtmlElement) -> None:
    """Turn a <form> that wraps most of the page into a plain <div>, so that neither the
    pruner nor trafilatura (which drops every form) throws the article away with it."""
    forms = list(body.iter("form"))
    if not forms:
        return
    total = _text_length(body) or 1
    for form in forms:
        if _text_length(form) >= total * _WRAPPER_SHARE:
            form.tag = "div"


def prune_furniture(tree: HtmlElement) -> HtmlElement:
    """Remove furniture from the page in place; the article container always survives."""
    body = tree.find("body")
    if body is None:
        return tree
    unwrap_page_forms(body)
    total = sum(_paragraph_lengths(body)) or 1
    # Depth-first with an explicit stack (pages can nest deeper than Python recursion),
    # never descending into what was removed.
    stack = [body]
    while stack:
        for child in list(stack.pop()):
            if not isinstance(child.tag, str):
                continue
            if is_furniture(child) and not _holds_article(child, total):
                _remove(child)
            else:
                stack.append(child)
    return tree

