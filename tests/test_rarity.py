"""The rarity estimates a rule index is anchored on: the same figures, computed in bulk."""

from __future__ import annotations

import pytest
import wordfreq

from alerts.rarity import Rarity, fold_all, rarity
from alerts.text import fold

# Latin with accents, Cyrillic (й decomposes), Greek (final sigma), Turkish (dotted I),
# Arabic and Hindi (combining marks that are not accents), Vietnamese (stacked marks),
# Japanese (half-width and compatibility forms).
LANGUAGES = ("en", "fr", "ru", "el", "tr", "ar", "hi", "vi", "ja")


@pytest.mark.parametrize("language", LANGUAGES)
def test_bulk_folding_folds_every_listed_word_as_fold_does(language: str) -> None:
    words = list(wordfreq.get_frequency_dict(language, wordlist="small"))
    assert fold_all(words) == [fold(word) for word in words]


def test_bulk_folding_of_awkward_words() -> None:
    words = ["", "Café", "İstanbul", "ΟΔΟΣ", "½", "ﾊﾝｶｸ", "naïve-ish", "0,5", "हिन्दी", "Straße"]
    assert fold_all(words) == [fold(word) for word in words]
    assert fold_all([]) == []


def test_estimates_sum_the_frequencies_of_words_folding_alike() -> None:
    estimates = Rarity({"café": 0.002, "cafe": 0.001, "Cafe": 0.0005, "tea": 0.01})
    assert estimates.word("cafe") == pytest.approx(0.0035)
    assert estimates.word("tea") == pytest.approx(0.01)
    assert estimates.prefix("caf") > estimates.word("cafe")
    assert estimates.word("unlisted") < estimates.word("cafe")


def test_a_languages_estimates_are_those_of_its_wordfreq_list() -> None:
    listed = wordfreq.get_frequency_dict("de", wordlist="small")
    estimates = rarity("de")
    for word in ("und", "regierung", "straße", "über"):
        expected = sum(frequency for surface, frequency in listed.items()
                       if fold(surface) == fold(word))
        assert estimates.word(fold(word)) == pytest.approx(expected)
