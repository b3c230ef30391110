"""Article facts declared as structured data: JSON-LD (schema.org) and microdata."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lxml.html import HtmlElement

# schema.org types whose node describes the page's own story.
_ARTICLE_TYPE = re.compile(
    r"(Article|BlogPosting|LiveBlogPosting|Report|NewsArticle|OpinionNewsArticle|"
    r"AnalysisNewsArticle|ReportageNewsArticle|BackgroundNewsArticle|ReviewNewsArticle|"
    r"SocialMediaPosting|Posting)$"
)
_ORGANISATION = re.compile(r"Organi[sz]ation|Corporation|NewsMedia|Brand")
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


@dataclass
class StructuredArticle:
    """What the page's schema.org data says about its article (all optional)."""

    headline: str | None = None
    body: str | None = None
    authors: list[str] = field(default_factory=list)
    published: str | None = None
    modified: str | None = None
    image: str | None = None
    description: str | None = None
    publisher: str | None = None
    language: str | None = None
    url: str | None = None


def _load_json(text: str) -> Any:
    text = _CONTROL_CHARS.sub(" ", text.strip())
    # Some CMSs wrap the JSON in an HTML comment or CDATA section.
    text = re.sub(r"^(<!--|/\*<!\[CDATA\[\*/|//<!\[CDATA\[|<!\[CDATA\[)", "", text)
    text = re.sub(r"(-->|/\*\]\]>\*/|//\]\]>|\]\]>)$", "", text).strip()
    try:
        return json.loads(text)
    except ValueError:
        # Unescaped newlines inside strings are the most common JSON-LD defect.
        try:
            return json.loads(text.replace("\n", " ").replace("\r", " "))
        except ValueError:
            return None


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in a JSON-LD document, @graph members included."""
    if isinstance(node, list):
        for item in node:
            yield from _walk(item)
    elif isinstance(node, dict):
        yield node
        for key in ("@graph", "mainEntity", "itemListElement"):
            if key in node:
                yield from _walk(node[key])


def _types(node: dict[str, Any]) -> list[str]:
    kind = node.get("@type", [])
    kinds = kind if isinstance(kind, list) else [kind]
    return [k.rsplit("/", 1)[-1] for k in kinds if isinstance(k, str)]


def _is_article(node: dict[str, Any]) -> bool:
    return any(_ARTICLE_TYPE.search(kind) for kind in _types(node))


def jsonld_nodes(tree: HtmlElement) -> list[dict[str, Any]]:
    """All JSON objects found in the page's application/ld+json scripts."""
    nodes: list[dict[str, Any]] = []
    for script in tree.xpath('//script[contains(translate(@type, "LDJSON", "ldjson"), "ld+json")]'):
        data = _load_json(script.text or "")
        if data is not None:
            nodes.extend(_walk(data))
    return nodes


def _text(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("name") or value.get("@value") or value.get("url")
    if isinstance(value, (int, float)):
        value = str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _image(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("url") or value.get("contentUrl") or value.get("@id")
    return value.strip() if isinstance(value, str) and value.strip() else None


def _people(value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    names: list[str] = []
    for item in values:
        if isinstance(item, dict) and _ORGANISATION.search(" ".join(_types(item))):
            continue  # the publisher or a desk, not a person
        name = item.get("name") if isinstance(item, dict) else item
        if isinstance(name, list):
            names.extend(n for n in name if isinstance(n, str))
        elif isinstance(name, str):
            names.append(name)
    return [n.strip() for n in names if n and n.strip()]


def _score(node: dict[str, Any]) -> int:
    """Prefer the node that best describes a news story (body, headline, date)."""
    kinds = _types(node)
    return (
        4 * bool(node.get("articleBody"))
        + 2 * any("NewsArticle" in k for k in kinds)
        + bool(node.get("headline"))
        + bool(node.get("datePublished"))
    )


def structured_article(nodes: list[dict[str, Any]]) -> StructuredArticle:
    """The best article node's facts, or an empty record when the page declares none."""
    articles = [n for n in nodes if _is_article(n)]
    if not articles:
        return StructuredArticle()
    node = max(articles, key=_score)
    body = node.get("articleBody")
    publisher = node.get("publisher")
    return StructuredArticle(
        headline=_text(node.get("headline")) or _text(node.get("name")),
        body=body.strip() if isinstance(body, str) and body.strip() else None,
        authors=_people(node.get("author") or node.get("creator")),
        published=_text(node.get("datePublished")) or _text(node.get("dateCreated")),
        modified=_text(node.get("dateModified")),
        image=_image(node.get("image") or node.get("thumbnailUrl")),
        description=_text(node.get("description")),
        publisher=_text(publisher),
        language=_text(node.get("inLanguage")),
        url=_text(node.get("url")) or _image(node.get("mainEntityOfPage")),
    )


def website_name(nodes: list[dict[str, Any]]) -> str | None:
    """The name of the site from a WebSite or Organization node, if declared."""
    for wanted in ("WebSite", "NewsMediaOrganization", "Organization"):
        for node in nodes:
            if wanted in _types(node):
                name = _text(node.get("name"))
                if name:
                    return name
    return None


def _microdata_value(element: HtmlElement) -> str | None:
    value = element.get("content") or element.get("datetime") or element.text_content()
    return " ".join(value.split()) if value and value.strip() else None


class Microdata:
    """A page's itemprop elements, found in one pass; values read on demand (an
    articleBody's text is only read when asked for)."""

    def __init__(self, tree: HtmlElement) -> None:
        self._elements: dict[str, list[HtmlElement]] = {}
        for element in tree.xpath("//*[@itemprop]"):
            self._elements.setdefault(element.get("itemprop"), []).append(element)

    def values(self, prop: str) -> list[str]:
        """Values of an itemprop (content/datetime attribute first, else the text)."""
        found = (_microdata_value(element) for element in self._elements.get(prop, ()))
        return [value for value in found if value]
