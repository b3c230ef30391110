"""Text normalisation shared by rules and articles: tokenising, folding, stemming.

Both sides of a match go through the same functions, so whatever they do to a word
(split "extra-time" into two words, drop a possessive "'s", fold "É" to "e", stem
"visiting" to "visit") is applied identically to the query and to the article.

A token keeps the character offsets of the word in the *original* text, so that
matches can be highlighted without re-tokenising.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

try:  # PyStemmer is the same Snowball algorithms compiled to C: ~10x faster.
    import Stemmer as _pystemmer
except ImportError:  # pragma: no cover - PyStemmer is a declared dependency
    _pystemmer = None

DEFAULT_LANGUAGE = "en"

# ISO 639-1 code -> Snowball algorithm name (only those snowballstemmer ships are used).
_SNOWBALL_BY_ISO = {
    "ar": "arabic", "hy": "armenian", "eu": "basque", "ca": "catalan", "cs": "czech",
    "da": "danish", "nl": "dutch", "en": "english", "eo": "esperanto", "et": "estonian",
    "fi": "finnish", "fr": "french", "de": "german", "el": "greek", "hi": "hindi",
    "hu": "hungarian", "id": "indonesian", "ga": "irish", "it": "italian",
    "lt": "lithuanian", "ne": "nepali", "no": "norwegian", "nb": "norwegian",
    "nn": "norwegian", "fa": "persian", "pl": "polish", "pt": "portuguese",
    "ro": "romanian", "ru": "russian", "sr": "serbian", "st": "sesotho", "es": "spanish",
    "sv": "swedish", "ta": "tamil", "tr": "turkish", "yi": "yiddish",
}


def _combining_mark_class() -> str:
    """A regex class body of the combining marks of the Basic Multilingual Plane.

    Python's `\\w` leaves out combining marks (Mn/Mc/Me), which would split decomposed
    accented letters and Indic words at every vowel sign.
    """
    ranges: list[tuple[int, int]] = []
    for code in range(0x10000):
        if unicodedata.category(chr(code)).startswith("M"):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    return "".join(f"\\u{lo:04x}-\\u{hi:04x}" if lo != hi else f"\\u{lo:04x}" for lo, hi in ranges)


_MARKS = _combining_mark_class()
# A word: letters/digits (and combining marks) possibly joined by apostrophes, so that
# a possessive "'s" stays attached and can be dropped as a whole.
_WORD_RE = re.compile(
    rf"(?:[^\W_]|[{_MARKS}])+(?:['’ʼ](?:[^\W_]|[{_MARKS}])+)*"
)
_APOSTROPHES = "'’ʼ"
_POSSESSIVE_RE = re.compile(r"['’ʼ][sS]$")
_APOSTROPHE_SPLIT_RE = re.compile(r"['’ʼ]")


@dataclass(frozen=True, slots=True)
class Token:
    """One word of a text: its folded form, its stem and where it was in the original."""

    surface: str  # case- and accent-folded, unstemmed
    stem: str
    start: int  # character offsets into the original text
    end: int


def fold(word: str) -> str:
    """Case- and accent-fold a word: NFKD, drop combining accents, casefold."""
    decomposed = unicodedata.normalize("NFKD", word)
    folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    if folded.isalnum():
        return folded
    # NFKD can produce punctuation (e.g. "½" -> "1⁄2"): keep letters, digits and the
    # spacing vowel signs of Indic scripts (marks that are not accents).
    return "".join(ch for ch in folded if ch.isalnum() or unicodedata.category(ch)[0] == "M")


def iter_word_spans(text: str) -> Iterator[tuple[str, int, int]]:
    """Yield (word, start, end) for each word of `text`, possessives dropped.

    "Putin's" -> "Putin"; other apostrophes split ("l'Élysée" -> "l", "Élysée").
    """
    for m in _WORD_RE.finditer(text):
        word, start = m.group(), m.start()
        if _POSSESSIVE_RE.search(word):
            word = word[:-2]
        if not any(a in word for a in _APOSTROPHES):
            yield word, start, start + len(word)
            continue
        offset = start
        for part in _APOSTROPHE_SPLIT_RE.split(word):
            yield part, offset, offset + len(part)
            offset += len(part) + 1


def stemmer_name(language: str | None) -> str | None:
    """The Snowball algorithm for an ISO 639-1 code; None -> English; unknown -> None."""
    code = normalise_language(language)
    return _SNOWBALL_BY_ISO.get(code)


def normalise_language(language: str | None) -> str:
    """'en-GB' -> 'en'; None or '' -> the default language (English)."""
    if not language:
        return DEFAULT_LANGUAGE
    return language.strip().lower().replace("_", "-").split("-")[0] or DEFAULT_LANGUAGE


@lru_cache(maxsize=64)
def get_stemmer(language: str | None) -> Callable[[str], str]:
    """A cached word -> stem function for the language (identity if Snowball lacks it)."""
    name = stemmer_name(language)
    if name is None or name not in snowballstemmer.algorithms():
        return _identity
    if _pystemmer is not None:
        stem_word = _pystemmer.Stemmer(name).stemWord
    else:  # pragma: no cover
        stem_word = snowballstemmer.stemmer(name).stemWord
    cache: dict[str, str] = {}

    def stem(word: str) -> str:
        found = cache.get(word)
        if found is None:
            # A stemmer never returns an empty stem for a non-empty word, but keep the
            # word if one ever did: an empty key would match nothing predictable.
            found = stem_word(word) or word
            if len(cache) < 500_000:
                cache[word] = found
        return found

    return stem


def _identity(word: str) -> str:
    return word


def tokenize(text: str, language: str | None = None) -> list[Token]:
    """Split `text` into folded, stemmed tokens with offsets into the original text."""
    stem = get_stemmer(language)
    tokens: list[Token] = []
    for word, start, end in iter_word_spans(text):
        surface = fold(word)
        if surface:
            tokens.append(Token(surface, stem(surface), start, end))
    return tokens


@lru_cache(maxsize=100_000)
def fold_words(text: str) -> tuple[str, ...]:
    """The folded (unstemmed) words of a query term: "Extra-Time" -> ("extra", "time")."""
    return tuple(s for s in (fold(w) for w, _, _ in iter_word_spans(text)) if s)

