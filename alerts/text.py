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
from collections import ChainMap
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import cache, lru_cache
from itertools import accumulate
from typing import NamedTuple

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


@cache
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


# Apostrophes split words; a possessive "'s" is then dropped (see iter_word_spans).
# The class of combining marks takes a scan of the whole plane to build: it is made on
# the first text that is not ASCII, so that loading a config (its queries are, as a rule,
# ASCII) does not wait for it. An ASCII text has no combining marks: the same words.
_ASCII_WORD_RE = re.compile(r"[^\W_]+")


@cache
def _unicode_word_re() -> re.Pattern[str]:
    return re.compile(rf"(?:[^\W_]|[{_combining_mark_class()}])+")


def _word_re(text: str) -> re.Pattern[str]:
    """The pattern of a word (letters, digits, combining marks) for `text`."""
    return _ASCII_WORD_RE if text.isascii() else _unicode_word_re()
_APOSTROPHES = "'’ʼ"


class Token(NamedTuple):
    """One word of a text: its folded form, its stem and where it was in the original."""

    surface: str  # case- and accent-folded, unstemmed
    stem: str
    start: int  # character offsets into the original text
    end: int


def fold(word: str) -> str:
    """Case- and accent-fold a word: NFKD, drop combining accents, casefold."""
    if word.isascii() and word.isalnum():
        return word.lower()  # what the steps below make of it, several times faster
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
    for m in _word_re(text).finditer(text):
        start, end = m.span()
        if end - start == 1 and _is_possessive_s(text, start):
            continue
        yield m.group(), start, end


def _is_possessive_s(text: str, start: int) -> bool:
    """An "s" right after an apostrophe that follows a word ("Putin's", "Putin’s")."""
    return (
        text[start] in "sS"
        and start >= 2
        and text[start - 1] in _APOSTROPHES
        and _word_re(text[start - 2]).match(text[start - 2]) is not None
    )


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


@lru_cache(maxsize=64)
def get_word_analyser(language: str | None) -> Callable[[str], tuple[str, str]]:
    """A cached raw word -> (folded surface, stem) function for the language."""
    stem = get_stemmer(language)
    cache: dict[str, tuple[str, str]] = {}

    def analyse(word: str) -> tuple[str, str]:
        found = cache.get(word)
        if found is None:
            surface = fold(word)
            found = (surface, stem(surface) if surface else "")
            if len(cache) < 500_000:
                cache[word] = found
        return found

    return analyse


def tokenize(text: str, language: str | None = None) -> list[Token]:
    """Split `text` into folded, stemmed tokens with offsets into the original text."""
    analyse = get_word_analyser(language)
    tokens: list[Token] = []
    append = tokens.append
    # iter_word_spans inlined: this loop runs for every word of every article.
    for m in _word_re(text).finditer(text):
        start, end = m.span()
        if end - start == 1 and _is_possessive_s(text, start):
            continue
        surface, stem = analyse(m.group())
        if surface:
            append(Token(surface, stem, start, end))
    return tokens


@lru_cache(maxsize=100_000)
def fold_words(text: str) -> tuple[str, ...]:
    """The folded (unstemmed) words of a query term: "Extra-Time" -> ("extra", "time")."""
    return tuple(s for s in (fold(w) for w, _, _ in iter_word_spans(text)) if s)



class Columns(NamedTuple):
    """The tokens of a text as parallel lists (what `tokenize` gives, column by column)."""

    surfaces: list[str]
    stems: list[str]
    starts: list[int]
    ends: list[int]


# In a text without combining marks (most texts: NFC, and every ASCII one), plain \w
# runs are the same words as _word_re's, and scanning for them is faster than for the
# wider class.
_PLAIN_WORD_RE = re.compile(r"(\w+)")


@cache
def _mark_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """A combining mark; and the same words as _word_re, but one character class (faster
    to scan): an underscore is turned into a space first, which keeps offsets and splits
    words as _word_re does."""
    marks = _combining_mark_class()
    return re.compile(f"[{marks}]"), re.compile(rf"([\w{marks}]+)")


def _word_pattern(text: str) -> re.Pattern[str]:
    if text.isascii():
        return _PLAIN_WORD_RE
    mark, words = _mark_patterns()
    return _PLAIN_WORD_RE if mark.search(text) is None else words


def split_words(text: str) -> list[str]:
    """The text as separator, word, separator, ..., separator: what `columns_of_parts`
    works from (the matcher also takes a document's distinct words from it)."""
    if "_" in text:
        text = text.replace("_", " ")
    return _word_pattern(text).split(text)


# Every ASCII byte that is no letter or digit (the underscore too, as in split_words)
# becomes a space; the bytes of other characters stay.
_ASCII_SEPARATORS_TO_SPACE = bytes(
    c if c >= 128 or chr(c).isalnum() else 32 for c in range(256))
_ASCII_BYTES = bytes(range(128))


class WordSplit:
    """The words of a text's tokens, as `iter_word_spans` finds them (possessives
    dropped), split in C without a regex (which costs more than all the rest of
    matching an article against few rules): every character that is no word character
    becomes a space, and so does a possessive "s"; the text is split on spaces. Offsets
    are worked out only for the words that need them (`starts_of_every`)."""

    __slots__ = ("_padded", "spaced", "words")

    def __init__(self, text: str) -> None:
        self.spaced = _without_possessives(text, _spaced_text(text))
        self.words: list[str] = self.spaced.split()
        self._padded: str | None = None

    def starts_of_every(self, words: Iterable[str]) -> list[int]:
        """The start offsets of `words`: the text's words, in order, that are one of some
        words (every occurrence of each). As none of those occurs between two of them,
        each is the next occurrence of itself as a whole word: one search in C."""
        padded = self._padded
        if padded is None:
            padded = self._padded = f" {self.spaced} "
        found = []
        at = 0
        find = padded.find
        for word in words:
            at = find(f" {word} ", at)  # at the space before: the word's offset in the text
            found.append(at)
            at += len(word) + 1
        return found




def _spaced_text(text: str) -> str:
    """`text` with each character that is no word character (see _word_pattern) made a
    space: ASCII ones by one bytes.translate, the few distinct others by str.replace."""
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_SEPARATORS_TO_SPACE).decode("ascii")
    raw = text.encode("utf-8", "surrogatepass")
    spaced = raw.translate(_ASCII_SEPARATORS_TO_SPACE).decode("utf-8", "surrogatepass")
    others = set(raw.translate(None, _ASCII_BYTES).decode("utf-8", "surrogatepass"))
    marks = any(map(_is_mark, others))  # a text with marks counts them as word characters
    separators = [ch for ch in others if not (ch.isalnum() or (marks and _is_mark(ch)))]
    if len(separators) > 16:
        return spaced.translate(dict.fromkeys(map(ord, separators), " "))
    for ch in separators:
        spaced = spaced.replace(ch, " ")
    return spaced


def _without_possessives(text: str, spaced: str) -> str:
    """`spaced` (`text` with its separators made spaces) with each possessive "s" made
    a space too (see _is_possessive_s): an "s" alone between an apostrophe that follows
    a word character and a separator or the end."""
    found = []
    for apostrophe in _APOSTROPHES if not text.isascii() else "'":
        at = text.find(apostrophe, 1)  # one character: found by memchr
        while at != -1:
            after = at + 2
            # (ʼ, U+02BC, is a letter: a word character, never a possessive's apostrophe)
            if (text[at + 1 : after] in ("s", "S") and spaced[at] == " "
                    and spaced[at - 1] != " " and (after == len(text) or spaced[after] == " ")):
                found.append(at + 1)
            at = text.find(apostrophe, at + 1)
    if not found:
        return spaced
    found.sort()
    pieces = [spaced[: found[0]]]
    for at, end in zip(found, [*found[1:], len(spaced)], strict=True):
        pieces.append(" ")
        pieces.append(spaced[at + 1 : end])
    return "".join(pieces)


@lru_cache(maxsize=4096)
def _is_mark(ch: str) -> bool:
    """A combining mark of the Basic Multilingual Plane (those _word_re counts)."""
    return ord(ch) < 0x10000 and unicodedata.category(ch).startswith("M")


def analyse_columns(text: str, language: str | None = None) -> Columns:
    """`tokenize(text, language)` as columns, with no per-word Python work for words
    seen before: the split, the offsets and the word lookups all run in C."""
    return columns_of_parts(split_words(text), language)


def columns_of_parts(parts: list[str], language: str | None = None,
                     distinct: set[str] | None = None) -> Columns:
    """`analyse_columns` of the text `parts` (from `split_words`) were split from;
    `distinct`: its words as a set, if the caller has it already."""
    words = parts[1::2]
    offsets = list(accumulate(map(len, parts)))
    starts, ends = offsets[0:-1:2], offsets[1::2]
    if "s" in words or "S" in words:
        _drop_possessives(parts, words, starts, ends)
    surface_of, stem_of = _analysis_tables(language)
    surface_map: Mapping[str, str] = surface_of
    stem_map: Mapping[str, str] = stem_of
    missing = (set(words) if distinct is None else distinct).difference(surface_of)
    if missing:
        analyse = get_word_analyser(language)
        if len(surface_of) >= _TABLE_LIMIT:
            # Full (a stream of ever new tokens): this text's new words in tables of
            # their own. Entries are never removed, so a concurrent lookup cannot fail.
            surface_map, stem_map = ChainMap({}, surface_of), ChainMap({}, stem_of)
        for word in missing:
            surface_map[word], stem_map[word] = analyse(word)  # type: ignore[index]
    surfaces = list(map(surface_map.__getitem__, words))
    stems = list(map(stem_map.__getitem__, words))
    if "" in surfaces:  # rare: a word of combining accents only
        keep = [i for i, surface in enumerate(surfaces) if surface]
        surfaces, stems = [surfaces[i] for i in keep], [stems[i] for i in keep]
        starts, ends = [starts[i] for i in keep], [ends[i] for i in keep]
    return Columns(surfaces, stems, starts, ends)


_TABLE_LIMIT = 500_000


def _drop_possessives(parts: list[str], words: list[str], starts: list[int],
                      ends: list[int]) -> None:
    """Remove, in place, each possessive "s" (see possessive_indexes)."""
    for i in reversed(possessive_indexes(parts, words)):
        del words[i], starts[i], ends[i]


def possessive_indexes(parts: list[str], words: list[str] | None = None) -> list[int]:
    """The word indexes (in `parts[1::2]`, or `words` if given) of each "s" that is a
    possessive (see _is_possessive_s): its separator is a single apostrophe right after
    a word. Ascending."""
    if words is None:
        words = parts[1::2]
    drop = []
    for letter in "sS":
        i = 0
        while True:
            try:
                i = words.index(letter, i)
            except ValueError:
                break
            if i > 0 and len(parts[2 * i]) == 1 and parts[2 * i] in _APOSTROPHES:
                drop.append(i)
            i += 1
    drop.sort()
    return drop


@lru_cache(maxsize=64)
def _analysis_tables(language: str | None) -> tuple[dict[str, str], dict[str, str]]:
    """Raw word -> folded surface, raw word -> stem, for one language."""
    return {}, {}
