"""Whether an extracted "body" is really a page's list of links (a homepage or a section
page) rather than an article: most of its text is the text of the page's links."""

from __future__ import annotations

import re

from lxml import html as lxml_html

# Share of the body's characters that are whole link texts from which it is a listing.
LINK_SHARE = 0.5
_SPACES = re.compile(r"\s+")


def _normalised(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def mostly_links(page: bytes | str, body: str) -> bool:
    """True when at least half of `body`'s lines, by characters, are link texts of `page`."""
    lines = [_normalised(line) for line in body.splitlines() if line.strip()]
    total = sum(len(line) for line in lines)
    if not total:
        return False
    try:
        root = lxml_html.fromstring(page)
    except (ValueError, TypeError, lxml_html.etree.ParserError):
        return False
    link_texts = {_normalised(anchor.text_content()) for anchor in root.iter("a")}
    link_texts.discard("")
    linked = sum(len(line) for line in lines if line in link_texts)
    return linked / total >= LINK_SHARE
