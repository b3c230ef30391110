"""How common a word or a word prefix is in a language: what a rule is anchored on.

The matcher indexes each rule under one of the conditions every match must meet (see
`alerts.matcher`), and picks the one an article meets least often, so that most
articles never reach the rule. How often is estimated from wordfreq's "small" lists
(the words used at least once per million, for 40-odd languages; loaded in a few
milliseconds). A word absent from the list is rarer than any listed one; among those,
a longer word is taken to be rarer. Only the order of the estimates matters.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from functools import lru_cache
from itertools import accumulate
from types import ModuleType

from alerts.text import fold, normalise_language

_UNLISTED = 1e-7  # below the lists' floor of 1e-6


class Rarity:
    """Estimated frequencies (share of running words) of folded words and prefixes."""

    def __init__(self, frequencies: dict[str, float]) -> None:
        folded: Counter[str] = Counter()
        for word, frequency in frequencies.items():
            folded[fold(word)] += frequency  # "café" and "cafe" are one surface here
        folded.pop("", None)
        self._word = dict(folded)
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


@lru_cache(maxsize=64)
def rarity(language: str | None) -> Rarity:
    """The estimates for an ISO 639-1 code (no list: every word unlisted)."""
    code = normalise_language(language)
    if code not in _listed_languages():
        return Rarity({})
    return Rarity(_wordfreq().get_frequency_dict(code, wordlist="small"))


@lru_cache(maxsize=1)
def _listed_languages() -> frozenset[str]:
    return frozenset(_wordfreq().available_languages(wordlist="small"))


def _wordfreq() -> ModuleType:
    """wordfreq, imported at the first rule index: a command that matches nothing (an
    all-304 `run --once`, `status`) never pays its import."""
    import wordfreq

    return wordfreq
