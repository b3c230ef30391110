"""OPML, the subscription list format of feed readers: reading outlines, writing sources.

Reading goes through crawler/safexml.py (no DTD, no entities): an OPML file is as
untrusted as any download. Categories (nested outlines) are flattened.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from lxml import etree

from crawler.safexml import parse_xml, strip_doctype


@dataclass(frozen=True)
class Outline:
    name: str
    url: str
    kind: str  # "feed" for an outline with an xmlUrl, "auto" for a plain link
    html_url: str | None = None


class OPMLError(ValueError):
    pass


def read_opml(data: bytes) -> list[Outline]:
    """The feeds and links an OPML document lists, in document order.

    The document must be well-formed: a file cut short (an interrupted download or
    export) would otherwise give a few of its feeds, or none, without a word."""
    problem = _syntax_error(data)
    if problem is not None:
        raise OPMLError(f"not well-formed XML ({problem}); if the file was cut short, "
                        "export it from the feed reader again")
    root = parse_xml(data)
    if root is None or not isinstance(root.tag, str) or root.tag.lower() != "opml":
        raise OPMLError("not an OPML document (no <opml> root element)")
    return list(_outlines(root))


def _syntax_error(data: bytes) -> str | None:
    """Where a strict parse of `data` fails, or None (entities and DTDs never loaded)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False, recover=False)
    try:
        etree.fromstring(strip_doctype(data), parser)
    except etree.XMLSyntaxError as error:
        return f"line {error.lineno}: {error.msg}"
    return None


def _outlines(root: etree._Element) -> Iterator[Outline]:
    for element in root.iter("outline"):
        feed = (element.get("xmlUrl") or element.get("xmlurl") or "").strip()
        link = (element.get("url") or "").strip() if element.get("type") == "link" else ""
        url = feed or link
        if not url.startswith(("http://", "https://")):
            continue
        name = " ".join((element.get("text") or element.get("title") or "").split())
        yield Outline(name=name, url=url, kind="feed" if feed else "auto",
                      html_url=element.get("htmlUrl") or None)


def write_opml(outlines: Iterable[Outline], title: str = "newswatch sources") -> bytes:
    """An OPML 2.0 document: feeds as `type="rss"` outlines, other sources as links."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    etree.SubElement(head, "dateCreated").text = format_datetime(datetime.now(UTC), usegmt=True)
    body = etree.SubElement(root, "body")
    for outline in outlines:
        attributes = {"text": outline.name, "title": outline.name}
        if outline.kind == "feed":
            attributes.update(type="rss", xmlUrl=outline.url)
            if outline.html_url:
                attributes["htmlUrl"] = outline.html_url
        else:
            attributes.update(type="link", url=outline.url)
        etree.SubElement(body, "outline", attributes)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
