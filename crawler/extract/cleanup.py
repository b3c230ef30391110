"""Cleanup of extracted blocks: the repeated headline, link-only lines, closing furniture.

Rules read the blocks themselves (their text, their links, the byline), so they hold
on any site: an author bio names the article's author, a closing promo is mostly link.
"""

from __future__ import annotations

import re

from crawler.extract.blocks import Block

_WORD = re.compile(r"\w+")
# Author bios close many articles: "Jane Doe is a reporter ...", "CNBC's Jane Doe has ...".
_BIO_VERB = r"(?:’s|'s)?\s+(?:is|was|has|covers|writes|reports)\b"
# How many blocks at the end may be bios or closing link lines.
_CLOSING_WINDOW = 3
_CLOSING_LINK_DENSITY = 0.6
_CLOSING_LINK_WORDS = 12
_ADDRESS = re.compile(r"https?://|www\.|@|\.(?:com|org|net)\b")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _same_text(a: str, b: str) -> bool:
    return _words(a) == _words(b)


def _is_link_only(block: Block) -> bool:
    """A paragraph that is nothing but a link: a related-story or app promo, not prose."""
    return block.link_density > 0.9 and block.kind in ("p", "head")


def _is_headline(block: Block, index: int, title: str | None) -> bool:
    """The headline repeated at the top of the body (the title is reported on its own)."""
    if title and _same_text(block.text, title):
        return True
    return index == 0 and block.kind == "head" and block.rend == "h1"


def _name_pattern(name: str) -> str:
    """A byline name as a bio may spell it: "Stephanie Bazzle" also matches "Steph Bazzle"."""
    parts = name.split()
    if len(parts) < 2 or len(parts[0]) < 3:
        return re.escape(name)
    return rf"{re.escape(parts[0][:3])}\w*\s+{re.escape(' '.join(parts[1:]))}"


def _is_author_bio(block: Block, authors: list[str]) -> bool:
    head = block.text[:200]
    return any(
        re.match(rf"^(?:\w+(?:’s|'s)\s+)?{_name_pattern(name)}{_BIO_VERB}", head, re.I)
        for name in authors
    )


def _is_closing_link(block: Block) -> bool:
    """A short closing line that mostly links elsewhere ("Our standards: ...", "More: ...").

    Links that spell out an address or email ("Follow us at https://...") are text the
    story prints, and stay.
    """
    return (
        block.link_density >= _CLOSING_LINK_DENSITY
        and len(_words(block.text)) <= _CLOSING_LINK_WORDS
        and not any(_ADDRESS.search(link) for link in block.links)
    )


def _drop_closing_furniture(blocks: list[Block], authors: list[str]) -> list[Block]:
    """Trim an author bio (and what follows it) and link lines from the last few blocks."""
    start = max(0, len(blocks) - _CLOSING_WINDOW)
    tail = blocks[start:]
    for index, block in enumerate(tail):
        if _is_author_bio(block, authors):
            tail = tail[:index]
            break
    return blocks[:start] + [block for block in tail if not _is_closing_link(block)]


# Short lines that are mostly a link, several in a row at the very start or end of the
# text: a menu or a list of other stories that the content extractor took along.
_EDGE_LINK_DENSITY = 0.8
_EDGE_RUN = 2


def _is_link_line(block: Block) -> bool:
    return block.link_density >= _EDGE_LINK_DENSITY and not any(
        _ADDRESS.search(link) for link in block.links)


def _trim_link_edges(blocks: list[Block]) -> list[Block]:
    start = 0
    while start < len(blocks) and _is_link_line(blocks[start]):
        start += 1
    end = len(blocks)
    while end > start and _is_link_line(blocks[end - 1]):
        end -= 1
    if start < _EDGE_RUN:
        start = 0
    if len(blocks) - end < _EDGE_RUN:
        end = len(blocks)
    return blocks[start:end]


def clean_blocks(blocks: list[Block], title: str | None, authors: list[str]) -> list[Block]:
    """Drop the repeated headline, link-only lines, menus at the edges and closing
    furniture."""
    kept = [
        block for index, block in enumerate(blocks)
        if not _is_headline(block, index, title) and not _is_link_only(block)
    ]
    return _drop_closing_furniture(_trim_link_edges(kept), authors)
