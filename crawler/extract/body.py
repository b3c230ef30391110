"""Main article text: trafilatura on a page cleared of furniture, then cleaned up.

Pipeline: prune furniture (prune) -> drop other full stories (main) -> trafilatura's
blocks (blocks) -> cleanup (cleanup) -> standfirst and key points (lead). A complete
JSON-LD articleBody stands in when the page itself shows far less of the story.
"""

from __future__ import annotations

import html as htmllib
import re

from lxml import etree
from lxml.html import HtmlElement

from crawler.extract.blocks import trafilatura_blocks
from crawler.extract.cleanup import clean_blocks
from crawler.extract.lead import lead_paragraphs
from crawler.extract.main import isolate_main_article
from crawler.extract.prune import prune_furniture

_WORD = re.compile(r"\w+")
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
    headline: str | None = None,
) -> str:
    """Body text: paragraphs joined by newlines, with the standfirst when the page shows one.

    The tree is pruned in place: pass a copy if it is needed afterwards.
    """
    # Scripts and styles are no text of the page (the metadata stages have read its
    # JSON-LD by now): gone before trafilatura, which copies the whole tree three times.
    etree.strip_elements(tree, "script", "style", with_tail=False)
    pruned = prune_furniture(tree)
    isolate_main_article(pruned, url, title, headline)
    blocks = clean_blocks(trafilatura_blocks(pruned, url), title, authors)
    body = "\n".join(block.text for block in blocks)
    if prefer_structured(body, structured_body):
        return _paragraphs(structured_body or "")
    return "\n".join([*lead_paragraphs(pruned, description, body), body]) if body else body
