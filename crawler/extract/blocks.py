"""Text blocks (paragraphs, headings, list items, quotes) of trafilatura's output tree."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import trafilatura
from lxml.etree import _Element
from lxml.html import HtmlElement

logging.getLogger("trafilatura").setLevel(logging.CRITICAL)

_SPACES = re.compile(r"[ \t\u00a0\u2009\u200a\u202f]+")
_BLANK_LINES = re.compile(r"\s*\n\s*")
# Words of spaced scripts (Latin, Greek, Cyrillic) on both sides of a link's end.
_GLUED = re.compile(r"[0-9A-Za-z\u00c0-\u024f\u0370-\u04ff]{2}")
_GLUED_END = re.compile(r"[0-9A-Za-z\u00c0-\u024f\u0370-\u04ff]$")


@dataclass
class Block:
    """One output line of the body, with what is needed to judge it."""

    text: str
    kind: str  # "p", "head", "item" or "quote"
    links: list[str] = field(default_factory=list)  # the text of each link in the block
    rend: str = ""  # the source tag trafilatura records for headings ("h1", "h2", ...)

    @property
    def link_density(self) -> float:
        return sum(map(len, self.links)) / max(1, len(self.text))


def _element_text(element: _Element) -> str:
    parts: list[str] = []
    for node in element.iter():
        if node.tag == "lb":
            parts.append("\n")
        elif node is not element and node.tag in ("list", "item", "p") and parts:
            parts.append(" ")
        if node.text and node.tag != "lb":
            parts.append(node.text)
        if node is not element and node.tail:
            if node.tag == "ref" and _GLUED.match(node.tail) and _GLUED_END.search(
                    "".join(parts[-1:])):
                parts.append(" ")  # trafilatura strips the space after a link in some layouts
            parts.append(node.tail)
    text = _SPACES.sub(" ", "".join(parts))
    return _BLANK_LINES.sub("\n", text).strip()


def _links(element: _Element) -> list[str]:
    """Text of the block's links; anchors without an address (<a id=...>) and links to a
    place on the same page (a heading's own "#section" link) lead nowhere else."""
    return [_SPACES.sub(" ", "".join(ref.itertext())).strip() for ref in element.iter("ref")
            if ref.get("target") and not ref.get("target", "").startswith("#")]


def _block(element: _Element, kind: str) -> Block | None:
    text = _element_text(element)
    return Block(text, kind, _links(element), element.get("rend") or "") if text else None


def blocks_of(body: _Element) -> list[Block]:
    """Flatten trafilatura's output tree into blocks in reading order."""
    blocks: list[Block] = []
    for child in body:
        if child.tag == "list":
            items = [_block(item, "item") for item in child.iter("item")]
            blocks.extend(item for item in items if item)
            continue
        if child.tag == "table":
            cells = [_block(cell, "cell") for cell in child.iter("cell")]
            blocks.extend(cell for cell in cells if cell)
            continue
        kind = {"head": "head", "quote": "quote"}.get(str(child.tag), "p")
        block = _block(child, kind)
        if block:
            blocks.append(block)
    return blocks


# trafilatura's fast mode skips its comparison with readability and jusText, which only
# matters when its own pass finds little: when that pass holds less than this share of
# the page's paragraph text, the full mode runs.
_FAST_ENOUGH_SHARE = 0.6


def _bare(tree: HtmlElement, url: str, fast: bool, modes: dict[str, bool]) -> list[Block]:
    # No url: trafilatura would resolve every link against it, and only whether a link
    # has an address matters here.
    try:
        document = trafilatura.bare_extraction(
            tree, url=None, include_comments=False, include_tables=True,
            include_links=True, with_metadata=False, fast=fast, **modes,
        )
    except Exception:  # trafilatura has many internal failure modes on hostile markup
        return []
    if document is None or document.body is None:
        return []
    return blocks_of(document.body)


def trafilatura_blocks(tree: HtmlElement, url: str, **modes: bool) -> list[Block]:
    """Blocks of the main content trafilatura finds (it works on a copy of the tree)."""
    blocks = _bare(tree, url, True, modes)
    found = sum(len(block.text) for block in blocks)
    paragraphs = sum(len(p.text_content()) for p in tree.iter("p"))
    if found >= paragraphs * _FAST_ENOUGH_SHARE and found:
        return blocks
    return _bare(tree, url, False, modes)
