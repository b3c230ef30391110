"""Text a page shows above its body column: the standfirst and a key-points summary.

Extractors that look for the densest block of paragraphs skip both, yet the reader sees
them as part of the story. The page's own description (og:description) says which text
is the standfirst: a visible element showing the same words. A key-points box is a
short list labelled as such in the markup ("key points", "takeaways", a summary list).
Both count only when they come before the body's first paragraph.
"""

from __future__ import annotations

import re
from itertools import pairwise

from lxml.html import HtmlElement

from crawler.extract.prune import class_words

_WORD = re.compile(r"\w+")
_BLOCK_TAGS = frozenset({"p", "div", "h2", "h3", "h4", "span", "section", "header", "li"})
_NOT_VISIBLE = frozenset({"head", "title", "script", "style", "noscript", "template", "a",
                          "button", "meta", "option", "textarea"})
# The snippet searched for: enough words to be distinctive, few enough to survive
# small differences between the meta description and the visible text.
_SNIPPET_WORDS = 6
_MIN_DESCRIPTION_WORDS = 8
_MATCH = 0.8

_KEY_POINT_WORDS = frozenset({"keypoints", "takeaways", "highlights", "tldr"})
_KEY_POINT_PAIRS = frozenset({("key", "points"), ("key", "takeaways"), ("at", "glance")})
_MAX_KEY_POINTS = 8
_MAX_KEY_POINT_CHARS = 2000
_MIN_POINT_WORDS = 5


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _overlap(part: list[str], whole: list[str]) -> float:
    """Share of `part`'s word bigrams also found in `whole`."""
    grams = set(pairwise(part))
    if not grams:
        return 0.0
    return len(grams & set(pairwise(whole))) / len(grams)


def _snippet(text: str) -> str | None:
    match = re.match(rf"\s*((?:\S+\s+){{{_SNIPPET_WORDS - 1}}}\S+)", text)
    return match.group(1) if match else None


def _visible_block(node: HtmlElement) -> HtmlElement | None:
    """The nearest block-level ancestor of a text node, unless the text is not shown."""
    block = None
    for element in (node, *node.iterancestors()):
        if element.tag in _NOT_VISIBLE:
            return None
        if block is None and element.tag in _BLOCK_TAGS:
            block = element
    return block


def _blocks_showing(tree: HtmlElement, text: str) -> list[HtmlElement]:
    """Visible block elements whose text contains the opening words of `text`."""
    snippet = _snippet(text)
    if snippet is None:
        return []
    nodes = tree.xpath("//body//text()[contains(., $s)]", s=snippet)
    blocks = (_visible_block(node.getparent()) for node in nodes)
    return [block for block in blocks if block is not None]


def _precedes(tree: HtmlElement, first: HtmlElement, anchor: HtmlElement | None) -> bool:
    """True when `first` comes before `anchor` in the page (or there is no anchor)."""
    if anchor is None:
        return True
    for element in tree.iter():
        if element is first:
            return True
        if element is anchor:
            return False
    return False


def _standfirst(
    tree: HtmlElement, description: str | None, body: str, anchor: HtmlElement | None
) -> str | None:
    """Visible text matching the description, when the body lacks it."""
    wanted = _words(description or "")
    if len(wanted) < _MIN_DESCRIPTION_WORDS or _overlap(wanted, _words(body)) >= 0.5:
        return None
    for block in _blocks_showing(tree, description or ""):
        shown = " ".join(block.text_content().split())
        words = _words(shown)
        if _overlap(wanted, words) >= _MATCH and _overlap(words, wanted) >= _MATCH:
            return shown if _precedes(tree, block, anchor) else None
    return None


def _hints_key_points(raw: str) -> bool:
    """Whether class and id words could mark a key-points box (spelt out: ten times
    faster than any() or a regular expression, and most elements are ruled out here)."""
    raw = raw.lower()
    return ("key" in raw or "takeaway" in raw or "highlight" in raw or "tldr" in raw
            or "glance" in raw or "summary" in raw)


# Only elements with a class or id can be a box; libxml2 selects them (a test in XPath of
# the hints themselves is slower than this walk in Python over the few it returns).
_HINTED = "descendant-or-self::*[@class or @id]"


def _is_key_points_box(element: HtmlElement) -> bool:
    if not _hints_key_points(f"{element.get('class') or ''} {element.get('id') or ''}"):
        return False  # most elements: no need to split their class names
    words = class_words(element)
    if not words:
        return False
    if any(w in _KEY_POINT_WORDS for w in words):
        return True
    if any(pair in _KEY_POINT_PAIRS for pair in pairwise(words)):
        return True
    return element.tag in ("ul", "ol") and "summary" in words


def _points(box: HtmlElement) -> list[str] | None:
    """The box's list items (or paragraphs) when they read as a short summary, else None."""
    items = box.findall(".//li") or box.findall(".//p")
    points = [" ".join(item.text_content().split()) for item in items]
    if not 0 < len(points) <= _MAX_KEY_POINTS or sum(map(len, points)) > _MAX_KEY_POINT_CHARS:
        return None
    if any(len(_words(point)) < _MIN_POINT_WORDS for point in points):
        return None
    link_chars = sum(len(a.text_content()) for item in items for a in item.iter("a"))
    if link_chars > 0.5 * sum(map(len, points)):
        return None  # a list of links is navigation ("jump to"), not a summary
    return points


def _key_points(tree: HtmlElement, body: str, anchor: HtmlElement | None) -> list[str]:
    """The first key-points box before the body, unless the body already holds it.

    Its bullets often restate sentences of the body; they are kept all the same, as
    the page shows them twice too. Only the box's own lines in the body rule it out.
    """
    for box in tree.xpath(_HINTED):
        if not _is_key_points_box(box):
            continue
        points = _points(box)
        if not points:
            continue
        if not _precedes(tree, box, anchor):
            return []
        body_lines = {" ".join(_words(line)) for line in body.splitlines()}
        if sum(" ".join(_words(p)) in body_lines for p in points) * 2 >= len(points):
            return []
        return points
    return []


def lead_paragraphs(tree: HtmlElement, description: str | None, body: str) -> list[str]:
    """Standfirst and key points to put before the extracted body (usually none)."""
    if not body or tree.find("body") is None:
        return []
    shown = _blocks_showing(tree, body.split("\n", 1)[0])
    anchor = shown[0] if shown else None
    lead = _key_points(tree, body, anchor)
    standfirst = _standfirst(tree, description, body, anchor)
    return [standfirst, *lead] if standfirst else lead
