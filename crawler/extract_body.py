"""Main article text: trafilatura's blocks, cleaned of boilerplate it lets through."""

from __future__ import annotations

import re

from lxml.html import HtmlElement

from crawler.extract_blocks import Block, trafilatura_blocks
from crawler.extract_prune import pruned_copy

_WORD = re.compile(r"\w+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _same_text(a: str, b: str) -> bool:
    return _words(a) == _words(b)


def _is_link_only(block: Block) -> bool:
    """A paragraph that is nothing but a link: a related-story or app promo, not prose."""
    return block.link_density > 0.9 and block.kind in ("p", "head")


def clean_blocks(blocks: list[Block], title: str | None) -> list[Block]:
    kept = []
    for block in blocks:
        if title and _same_text(block.text, title):
            continue
        if _is_link_only(block):
            continue
        kept.append(block)
    return kept


def extract_body(
    tree: HtmlElement, url: str, title: str | None, structured_body: str | None
) -> str:
    blocks = clean_blocks(trafilatura_blocks(pruned_copy(tree), url), title)
    return "\n".join(block.text for block in blocks)
