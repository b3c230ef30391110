"""How common a word or a word prefix is in a language: what a rule is anchored on.

The matcher indexes each rule under one of the conditions every match must meet (see
`alerts.matcher`), and picks the one an article meets least often, so that most
articles never reach the rule. How often is estimated from wordfreq's "small" lists
(the words used at least once per million, for 40-odd languages; loaded in a few
milliseconds). A word absent from the list is rarer than any listed one; among those,
a longer word is taken to be rarer. Only the order of the estimates matters.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from functools import lru_cache
from itertools import accumulate
from types import ModuleType

from alerts.text import fold, normalise_language

_UNLISTED = 1e-7  # below the lists' floor of 1e-6


class Rarity:
    """Estimated frequencies (share of running words) of folded words and prefixes."""

    def __init__(self, frequencies: dict[str, float]) -> None:
        folded: dict[str, float] = {}
        # "café" and "cafe" are one surface here
        for word, frequency in zip(fold_all(list(frequencies)), frequencies.values(),
                                   strict=True):
            folded[word] = folded.get(word, 0.0) + frequency
        folded.pop("", None)
        self._word = folded
        self._sorted = sorted(folded)
        self._cumulative = [0.0, *accumulate(folded[w] for w in self._sorted)]

    def word(self, surface: str) -> float:
        found = self._word.get(surface)
        return found if found is not None else _UNLISTED / (1 + len(surface))

    def prefix(self, prefix: str) -> float:
        """The summed frequency of the listed words starting with `prefix`."""
        first = bisect_left(self._sorted, prefix)
        last = bisect_left(self._sorted, prefix + "\U0010ffff", first)
        listed = self._cumulative[last] - self._cumulative[first]
        return listed + _UNLISTED * 10 / (1 + len(prefix))


def fold_all(words: list[str]) -> list[str]:
    """`fold` of each word (none holding a line break), at a fraction of its cost per
    word: the text-wide steps run once over all the words joined, and only a word that
    does not come out as letters and digits alone is folded on its own."""
    if not words:
        return []
    text = unicodedata.normalize("NFKD", "\n".join(words))
    marks = "".join(char for char in set(text) if unicodedata.combining(char))
    if marks:
        text = re.sub(f"[{re.escape(marks)}]+", "", text)
    folded = text.casefold().split("\n")
    return [done if done.isalnum() else fold(word)
            for word, done in zip(words, folded, strict=True)]


# Small: a language's estimates are wanted while a rule index is built for it, once per
# rule set; kept for every language an article came in, they held hundreds of MB.
@lru_cache(maxsize=4)
def rarity(language: str | None, *, listed: bool = True) -> Rarity:
    """The estimates for an ISO 639-1 code (no list, or `listed=False`: every word
    unlisted, so a longer one is rarer; wordfreq is not loaded then)."""
    code = normalise_language(language)
    if not listed or code not in _listed_languages():
        return Rarity({})
    return Rarity(_frequencies(code))


def _frequencies(code: str) -> dict[str, float]:
    """wordfreq's `get_frequency_dict(code, "small")`, without the copy of the list and
    of the dict that wordfreq would keep for the rest of the process."""
    wordfreq = _wordfreq()
    frequencies: dict[str, float] = {}
    pack = wordfreq.get_frequency_list.__wrapped__(code, wordlist="small")
    for index, bucket in enumerate(pack):
        frequency = wordfreq.cB_to_freq(-index)
        for word in bucket:
            frequencies[word] = frequency
    return frequencies


@lru_cache(maxsize=1)
def _listed_languages() -> frozenset[str]:
    return frozenset(_wordfreq().available_languages(wordlist="small"))


def _wordfreq() -> ModuleType:
    """wordfreq, imported at the first rule index: a command that matches nothing (an
    all-304 `run --once`, `status`) never pays its import."""
    import wordfreq

    return wordfreq
