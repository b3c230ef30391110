"""Main article text: trafilatura's blocks, cleaned of boilerplate it lets through."""

from __future__ import annotations

import html as htmllib
import re

from lxml.html import HtmlElement

from crawler.extract_blocks import Block, trafilatura_blocks
from crawler.extract_prune import pruned_copy
from crawler.extract_standfirst import find_standfirst

_WORD = re.compile(r"\w+")
# Author bios close many articles: "Jane Doe is a reporter ...", "CNBC's Jane Doe has ...".
_BIO_VERB = r"(?:’s|'s)?\s+(?:is|was|has|covers|writes|reports)\b"
_BIO_WINDOW = 2
_MARKUP = re.compile(r"</?(?:p|br|div|h[1-6]|li)\b", re.I)
_BLOCK_BREAK = re.compile(r"<br\s*/?>|</(?:p|div|h[1-6]|li)>", re.I)
_TAG = re.compile(r"<[^>]+>")
# Structured-data bodies cut short by the CMS end like this ("...", "…", "[…]").
_TRUNCATED = re.compile(r"(?:\.\.\.|…|\[…\]|\[\.\.\.\])\s*$")
# The declared articleBody replaces the page text only when the page shows much less
# of it (a paywall or script-rendered body), never to second-guess a full extraction.
_STRUCTURED_PREFERRED_BELOW = 0.5


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


def clean_blocks(blocks: list[Block], title: str | None, authors: list[str]) -> list[Block]:
    """Drop the repeated headline, link-only lines and a closing author bio."""
    kept = [
        block for index, block in enumerate(blocks)
        if not _is_headline(block, index, title) and not _is_link_only(block)
    ]
    cut = len(kept)
    for index in range(len(kept) - 1, max(-1, len(kept) - 1 - _BIO_WINDOW), -1):
        if _is_author_bio(kept[index], authors):
            cut = index
    return kept[:cut]


def is_truncated(structured_body: str) -> bool:
    return bool(_TRUNCATED.search(structured_body))


def _paragraphs(structured_body: str) -> str:
    """Declared body text as paragraph lines; some CMSs put HTML markup in it."""
    text = structured_body
    if _MARKUP.search(text):
        text = _BLOCK_BREAK.sub("\n", text)
        text = _TAG.sub("", text)
    lines = (" ".join(htmllib.unescape(line).split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def prefer_structured(page_text: str, structured_body: str | None) -> bool:
    """True when the page's declared articleBody is complete and the page shows far less."""
    if not structured_body or is_truncated(structured_body):
        return False
    return len(_words(page_text)) < _STRUCTURED_PREFERRED_BELOW * len(_words(structured_body))


def extract_body(
    tree: HtmlElement,
    url: str,
    title: str | None,
    authors: list[str],
    description: str | None,
    structured_body: str | None = None,
) -> str:
    """Body text: paragraphs joined by newlines, with the standfirst when the page shows one."""
    pruned = pruned_copy(tree)
    blocks = clean_blocks(trafilatura_blocks(pruned, url), title, authors)
    body = "\n".join(block.text for block in blocks)
    if prefer_structured(body, structured_body):
        return _paragraphs(structured_body or "")
    if body:
        standfirst = find_standfirst(pruned, description, body)
        if standfirst:
            body = f"{standfirst}\n{body}"
    return body
