"""Near-duplicate detection, the pure part: which texts are copies of one article."""

from __future__ import annotations

import pytest

from crawler.dedup import (
    BAND_ROWS,
    BANDS_PER_LEAD,
    LEADS,
    fingerprint,
    same_story,
    signature_from_bytes,
    signature_to_bytes,
    similarity,
    words,
)

# Invented articles, written for these tests.
FERRY = [
    "The island ferry service will run a reduced timetable for six weeks from Monday "
    "after one of its two vessels failed a safety inspection, the operator said on Friday.",
    "Inspectors found corrosion in the car deck of the older ship during a routine check "
    "last week, and the company said repairs could not begin until replacement steel "
    "plates arrive from a yard on the mainland.",
    "Passengers will be able to book only four crossings a day instead of the usual nine, "
    "and freight lorries will be given priority on the early morning sailings.",
    "Local councillor Agnes Whitlow said the news was a blow to shop owners who rely on "
    "summer visitors and warned that the island's only supermarket could run short of "
    "fresh produce within a fortnight.",
    "The operator said it had chartered a smaller passenger boat to carry foot passengers "
    "at weekends, although the vessel cannot take vehicles or bicycles.",
    "A spokesperson for the regional transport department said officials were in daily "
    "contact with the company and would review its maintenance records once the repairs "
    "were complete.",
    "It is the third time in two years that the route has been disrupted by problems with "
    "the older ship, which entered service in 1989 and was due to be replaced in 2027.",
    "Residents have started a petition calling for the replacement to be brought forward, "
    "and it had gathered more than 3,000 signatures by Friday evening.",
]
ORCHARD = [
    "Apple growers in the valley expect their smallest harvest in a decade after a late "
    "frost in April destroyed blossom across hundreds of hectares of orchards.",
    "The growers' association estimates that yields will fall by about 40 percent, with "
    "the worst damage on farms at higher altitude where temperatures dropped below minus "
    "three degrees for several nights.",
    "Several family businesses have already told seasonal pickers that there will be less "
    "work this autumn, and some are considering selling land to developers.",
    "Fruit farmer Henrik Osterlund said he had lost almost his entire crop of an old local "
    "variety that is sold mainly at farmers' markets and to cider makers.",
    "The association is asking the agriculture ministry for emergency support similar to "
    "the payments made after the drought three years ago.",
    "Prices for local apples in shops are expected to rise, although imported fruit should "
    "keep supermarket shelves stocked through the winter.",
]
# Background both wire stories carry: one paragraph, not the story.
BACKGROUND = (
    "The region has been hit by a series of extreme weather events since 2021, including "
    "floods that closed the main coastal road for a month and a heatwave that forced "
    "schools to shut early for the summer."
)


def text(paragraphs: list[str]) -> str:
    return "\n".join(paragraphs)


def merges(a: str, b: str, title_a: str = "", title_b: str = "", *, summary: bool = False) -> bool:
    return same_story(fingerprint(a, summary=summary), fingerprint(b), title_a, title_b)


def test_identical_text_merges() -> None:
    assert merges(text(FERRY), text(FERRY))


def test_trimmed_copy_merges_with_the_full_article() -> None:
    trimmed = text(FERRY[:3])  # the last five paragraphs cut
    assert merges(trimmed, text(FERRY))
    assert merges(text(FERRY), trimmed)  # whichever arrives first
    # Jaccard alone would not: the copy has well under half of the original's shingles.
    assert similarity(fingerprint(trimmed), fingerprint(text(FERRY))).jaccard < 0.5


def test_two_trimmed_copies_of_different_length_merge() -> None:
    assert merges(text(FERRY[:2]), text(FERRY[:6]))


def test_different_articles_sharing_one_background_paragraph_do_not_merge() -> None:
    ferry = text([*FERRY[:4], BACKGROUND, *FERRY[4:]])
    orchard = text([*ORCHARD[:3], BACKGROUND, *ORCHARD[3:]])
    assert not merges(ferry, orchard)
    assert not merges(text([*ORCHARD[:2], BACKGROUND]), ferry)


def test_different_articles_in_the_same_template_do_not_merge() -> None:
    """Template text a sloppy extraction might leave in both bodies must not glue them."""
    header = ("Home News World Politics Business Sport Share this article Facebook Twitter "
              "WhatsApp Email")
    footer = ("Sign up for our newsletter: the day's essential stories in your inbox every "
              "morning. Leave a reply. Please enter your comment! Please enter your name here. "
              "Copyright 2024 The Daily Ledger. All rights reserved. About us Contact Privacy")
    ferry = text([header, *FERRY[:3], footer])
    orchard = text([header, *ORCHARD[:3], footer])
    assert not merges(ferry, orchard)


def test_intro_sentence_credit_and_editors_note_merge() -> None:
    copy = text([
        "Editor's note: This story has been updated with comment from the operator.",
        "Islanders face weeks of disruption. " + FERRY[0],
        *FERRY[1:5],
        "Reporting by Maren Solberg; Editing by Tom Achebe",
    ])
    assert merges(copy, text(FERRY))


def test_us_and_uk_spellings_fold_to_one_word() -> None:
    uk = words("The organisation's colour programme was cancelled in the centre; "
               "defence travellers analysed 12 per cent of catalogues, whilst grey tyres...")
    us = words("The organization's color program was canceled in the center; "
               "defense travelers analyzed 12 percent of catalogs, while gray tires...")
    assert uk == us


def test_respelled_copy_is_as_similar_as_the_original() -> None:
    us = text([*ORCHARD, "The association's favorite harvest program was canceled."])
    uk = text([*ORCHARD, "The association's favourite harvest programme was cancelled."])
    uk = uk.replace("40 percent", "40 per cent")
    assert uk != us
    assert similarity(fingerprint(uk), fingerprint(us)).jaccard == 1.0


def test_one_sentence_summary_does_not_merge_into_a_longer_article_on_its_own() -> None:
    summary = FERRY[0]  # a feed's summary: the article's first sentence
    assert not merges(summary, text(FERRY), "Ferry timetable cut", "Islanders lose ferries")


def test_summary_merges_when_essentially_identical_under_a_related_headline() -> None:
    summary = FERRY[0]
    other_outlet = "  " + FERRY[0].replace("Friday.", "Friday")
    assert merges(summary, other_outlet, "Ferry timetable cut after inspection",
                  "Ferry timetable cut for six weeks", summary=True)


def test_identical_short_text_under_unrelated_headlines_does_not_merge() -> None:
    teaser = "Read the full story on our website."
    assert not merges(teaser, teaser, "Floods hit the coast", "Election called for autumn",
                      summary=True)


def test_contained_summary_merges_only_with_the_same_headline() -> None:
    headline = "Island ferry to run reduced timetable after failed inspection"
    assert merges(FERRY[0], text(FERRY), headline, headline, summary=True)
    assert not merges(FERRY[0], text(FERRY), headline, "Corrosion found on ferry", summary=True)


def test_summaries_sharing_a_clause_do_not_merge() -> None:
    first = "Officials said on Friday that the service would resume next week after repairs."
    second = ("Officials said on Friday that the service would resume next week, "
              "but unions called a strike.")
    assert not merges(first, second, summary=True)


def test_feed_summary_is_held_to_the_short_text_rule_whatever_its_length() -> None:
    summary = text(FERRY[:2])  # a long summary: two paragraphs
    assert merges(summary, text(FERRY))
    assert not merges(summary, text(FERRY), "A", "B", summary=True)


def test_empty_text_merges_with_nothing() -> None:
    assert not merges("", text(FERRY))
    assert fingerprint("").bands == []


def test_signature_has_a_band_per_lead_window_and_round_trips() -> None:
    fp = fingerprint(text(FERRY))
    assert fp.signature is not None
    assert len(fp.bands) == BANDS_PER_LEAD * len(LEADS)
    assert len(fp.signature) == BANDS_PER_LEAD * BAND_ROWS * len(LEADS)
    assert (signature_from_bytes(signature_to_bytes(fp.signature)) == fp.signature).all()
    assert all(-(2**63) <= band < 2**63 for band in fp.bands)


def test_band_hashes_are_stable_across_processes() -> None:
    """Bands are stored: a change to the hashing would silently orphan the whole index."""
    assert fingerprint("The quick brown fox jumps over the lazy dog").bands[:2] == [
        6348082270564735679, 6728036040165412738]


@pytest.mark.parametrize("copy", [
    text(FERRY[:3]),
    text(["Islanders face weeks of disruption.", *FERRY]),
    text([*FERRY, "Reporting by Maren Solberg; Editing by Tom Achebe"]),
])
def test_copies_share_a_band_with_the_original(copy: str) -> None:
    assert set(fingerprint(copy).bands) & set(fingerprint(text(FERRY)).bands)


def test_different_articles_share_no_band() -> None:
    assert not set(fingerprint(text(FERRY)).bands) & set(fingerprint(text(ORCHARD)).bands)
