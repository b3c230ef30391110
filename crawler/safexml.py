"""XML from strangers (feeds, sitemaps, OPML): no DTD, no entities, no network.

Entity declarations are how billion-laughs, quadratic-blowup and external-entity (XXE)
attacks get in, and no feed or sitemap needs one. feedparser does not protect against
them: its strict parser (expat) expands internal entities until expat's amplification
limit trips, and its loose fallback expands "safe" entities without any limit, so a
5 MB feed declaring one 100 kB entity and using it 3,000 times costs 1 GB of memory and
40 s. So the DOCTYPE, with its internal subset, is cut from the prolog before any parser
sees the document; lxml is additionally told never to resolve entities or load DTDs.
"""

from __future__ import annotations

import codecs
import re

from lxml import etree

_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_ELEMENT_START = re.compile(rb"<[A-Za-z_]")
_DECLARATION_TOKEN = re.compile(rb"<!--|[\"'\[\]>]")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


def strip_doctype(data: bytes) -> bytes:
    """`data` without its DOCTYPE declaration (internal subset included)."""
    data = _as_utf8(data)
    found = _DOCTYPE.search(data)
    if found is None or _ELEMENT_START.search(data, 0, found.start()):
        return data
    end = _declaration_end(data, found.end())
    return data[: found.start()] + (data[end:] if end is not None else b"")


def _declaration_end(data: bytes, position: int) -> int | None:
    """Index just past the `>` closing a declaration whose body starts at `position`,
    skipping quoted strings, comments and the bracketed internal subset."""
    depth = 0
    while True:
        found = _DECLARATION_TOKEN.search(data, position)
        if found is None:
            return None
        token, position = found.group(), found.end()
        if token in (b'"', b"'"):
            close = data.find(token, position)
            if close < 0:
                return None
            position = close + 1
        elif token == b"<!--":
            close = data.find(b"-->", position)
            if close < 0:
                return None
            position = close + 3
        elif token == b"[":
            depth += 1
        elif token == b"]":
            depth = max(0, depth - 1)
        elif depth == 0:  # ">"
            return position


def _as_utf8(data: bytes) -> bytes:
    """UTF-16/32 documents re-encoded as UTF-8, so byte patterns above can see them."""
    for bom, codec in (
        (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            text = data.decode(codec, errors="replace")
            return _XML_DECLARATION.sub('<?xml version="1.0" encoding="utf-8"?>', text,
                                        count=1).encode("utf-8")
    return data


def parse_xml(data: bytes) -> etree._Element | None:
    """Parse untrusted XML leniently and safely; None when there is no document."""
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        recover=True,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        return etree.fromstring(strip_doctype(data), parser)
    except etree.XMLSyntaxError:
        return None
