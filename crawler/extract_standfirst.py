"""The standfirst: the summary a page shows under its headline, outside the body column.

Extractors that look for the densest block of paragraphs skip it, yet it is text the
reader sees as part of the story. The page's own description (og:description) says
which text it is: a visible element showing the same words is the standfirst.
"""

from __future__ import annotations

import re
from itertools import pairwise

from lxml.html import HtmlElement

_WORD = re.compile(r"\w+")
_BLOCK_TAGS = frozenset({"p", "div", "h2", "h3", "h4", "span", "section", "header", "li"})
_NOT_VISIBLE = frozenset({"head", "title", "script", "style", "noscript", "template", "a",
                          "button", "meta", "option", "textarea"})
# The snippet searched for: enough words to be distinctive, few enough to survive
# small differences between the meta description and the visible text.
_SNIPPET_WORDS = 6
_MIN_DESCRIPTION_WORDS = 8
_MATCH = 0.8


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _overlap(part: list[str], whole: list[str]) -> float:
    """Share of `part`'s word bigrams also found in `whole`."""
    grams = set(pairwise(part))
    if not grams:
        return 0.0
    return len(grams & set(pairwise(whole))) / len(grams)


def _snippet(description: str) -> str | None:
    match = re.match(rf"\s*((?:\S+\s+){{{_SNIPPET_WORDS - 1}}}\S+)", description)
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


def find_standfirst(tree: HtmlElement, description: str | None, body: str) -> str | None:
    """Visible standfirst text matching the description, if the body lacks it."""
    if not description:
        return None
    wanted = _words(description)
    if len(wanted) < _MIN_DESCRIPTION_WORDS or _overlap(wanted, _words(body)) >= 0.5:
        return None
    snippet = _snippet(description)
    body_element = tree.find("body")
    if snippet is None or body_element is None:
        return None
    for text in body_element.xpath("//body//text()[contains(., $s)]", s=snippet):
        block = _visible_block(text.getparent())
        if block is None:
            continue
        shown = " ".join(block.text_content().split())
        words = _words(shown)
        if _overlap(wanted, words) >= _MATCH and _overlap(words, wanted) >= _MATCH:
            return shown
    return None
