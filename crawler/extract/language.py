"""Language of an article, identified from its text; the page's declaration breaks ties."""

from __future__ import annotations

import re
from functools import cache

from lxml.html import HtmlElement
from py3langid.langid import MODEL_FILE, LanguageIdentifier

# Below this many letters, statistical identification is unreliable.
_MIN_LETTERS = 40
# Below this probability the text is ambiguous (short, mixed, names and numbers) and
# the language the page declares is the better answer, when it declares one.
_CONFIDENT = 0.8
_SAMPLE_CHARS = 2000
_DECLARED = re.compile(r"^\s*([A-Za-z]{2})(?:[-_][A-Za-z0-9]+)*\s*$")
_LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)


@cache
def _identifier() -> LanguageIdentifier:
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def declared_language(tree: HtmlElement, structured: str | None = None) -> str | None:
    """The ISO 639-1 code the page declares (<html lang>, inLanguage, og:locale)."""
    candidates = [tree.get("lang"), tree.get("xml:lang"), structured]
    candidates += tree.xpath('//meta[@property="og:locale"]/@content')
    candidates += tree.xpath('//meta[@http-equiv="content-language"]/@content')
    for value in candidates:
        match = _DECLARED.match(value or "")
        if match:
            return match.group(1).lower()
    return None


def identify_language(text: str, declared: str | None = None) -> str | None:
    """ISO 639-1 code of the text; the declared code when the text cannot tell."""
    sample = text[:_SAMPLE_CHARS]
    if len(_LETTERS.findall(sample)) < _MIN_LETTERS:
        return declared
    code, probability = _identifier().classify(sample)
    if declared and code != declared and probability < _CONFIDENT:
        return declared
    return str(code)
