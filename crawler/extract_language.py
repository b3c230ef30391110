"""Language of an article, identified from its text (the page's lang attribute only breaks ties)."""

from __future__ import annotations

import re

import py3langid
from lxml.html import HtmlElement

# Below this many letters, statistical identification is unreliable.
_MIN_LETTERS = 40
_DECLARED = re.compile(r"^\s*([A-Za-z]{2})(?:[-_][A-Za-z0-9]+)*\s*$")
_LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)


def declared_language(tree: HtmlElement, structured: str | None = None) -> str | None:
    """The ISO 639-1 code the page declares (<html lang>, og:locale, inLanguage)."""
    candidates = [tree.get("lang"), tree.get("xml:lang"), structured]
    candidates += tree.xpath('//meta[@property="og:locale"]/@content')
    candidates += tree.xpath('//meta[@http-equiv="content-language"]/@content')
    for value in candidates:
        match = _DECLARED.match(value or "")
        if match:
            return match.group(1).lower()
    return None


def identify_language(text: str, declared: str | None = None) -> str | None:
    """ISO 639-1 code of the text; the declared code when the text is too short to tell."""
    sample = text[:5000]
    if len(_LETTERS.findall(sample)) < _MIN_LETTERS:
        return declared
    code, _score = py3langid.classify(sample)
    return str(code)
