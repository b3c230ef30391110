"""Turn downloaded page bytes into text and a parsed lxml tree, without ever raising."""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes
from lxml import etree, html
from lxml.html import HtmlElement

# Pages larger than this are not a single article (or are hostile): content extraction
# grows with the size of the page, and one such page would stall a crawl worker for
# minutes. Real article pages stay far below both (a few MB, a few thousand elements).
MAX_HTML_CHARS = 6_000_000
MAX_ELEMENTS = 20_000

_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE
)
_XML_ENCODING = re.compile(rb"""^<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9._-]+)""")
# Comments and processing instructions are dropped at parse time: left in, they split
# paragraphs' text in ways content extractors mishandle (e.g. markers around drop caps).
_PARSER = html.HTMLParser(remove_comments=True, remove_pis=True, collect_ids=False)
# lxml.html picks each element's class (form, input, label, ...) in Python, once per
# element it hands out: about 5% of the extraction time. Nothing here uses the form
# classes, so every element is a plain HtmlElement, chosen in C.
_PARSER.set_element_class_lookup(etree.ElementDefaultClassLookup(
    element=html.HtmlElement, comment=html.HtmlComment, pi=html.HtmlProcessingInstruction))
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def _known_codec(name: str) -> str | None:
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def declared_charset(data: bytes) -> str | None:
    """The charset a page declares (BOM, XML prolog or <meta>), if it names a real codec."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    head = data[:4096]
    match = _XML_ENCODING.search(head) or _META_CHARSET.search(head)
    if not match:
        return None
    return _known_codec(match.group(1).decode("ascii", "ignore"))


def decode_html(data: str | bytes) -> str:
    """Decode page bytes: the declared charset first, then detection, then lossy UTF-8."""
    if isinstance(data, str):
        return data
    charset = declared_charset(data)
    if charset:
        try:
            return data.decode(charset)
        except (UnicodeDecodeError, LookupError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best = from_bytes(data[:200_000]).best()
    if best is not None:
        try:
            return data.decode(best.encoding, errors="replace")
        except LookupError:
            pass
    return data.decode("utf-8", errors="replace")


def looks_like_html(text: str) -> bool:
    """True when the text has markup and is mostly printable (not binary garbage)."""
    sample = text[:5000]
    if "<" not in sample:
        return False
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\r\n\f")
    return controls + sample.count("\ufffd") < len(sample) * 0.05


def parse_html(text: str) -> html.HtmlElement | None:
    """Parse markup into an lxml tree, or None when it holds no document."""
    # lxml refuses str input that carries an XML encoding declaration.
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text, count=1)
    text = text.replace("\x00", "")
    try:
        tree = html.document_fromstring(text, parser=_PARSER)
    except (etree.ParserError, ValueError, TypeError):
        return None
    return tree if tree is not None and len(tree) else None


def element_count(tree: HtmlElement) -> int:
    """Elements in the tree, counted by libxml2 (no Python object per element)."""
    return int(tree.xpath("count(//*)"))
