"""Query/text cases for the matcher: every operator, normalisation and edge case."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest

from alerts.highlight import snippet, snippet_spans
from alerts.matcher import Document, Hit, Match, RuleSet, field_text, matches_reference
from alerts.query import parse_query

SEED = Path("/work/shared/fixtures/seed-site/expected.json")
if not SEED.exists():  # a checkout next to the shared folder
    SEED = Path(__file__).resolve().parents[2] / "shared/fixtures/seed-site/expected.json"

PUTIN_TITLE = "Putin Hails N. Korea’s Support For Ukraine War Ahead Of Pyongyang Visit"
PUTIN_BODY = (
    "Russian President Vladimir Putin hailed North Korea on Tuesday ahead of a visit to "
    "Pyongyang set to boost defence ties. Putin thanked Kim Jong Un’s government. "
    "Both countries are under rafts of UN sanctions. Putin's trip is his first in 24 years."
)


def doc(body: str, title: str = "", **kwargs: object) -> Document:
    return Document(title=title, body=body, **kwargs)  # type: ignore[arg-type]


# (query, title, body, expected match)
CASES: list[tuple[str, str, str, bool]] = [
    # bare words: all must occur, any order, title or body, case-insensitive, stemmed
    ("Putin visit Pyongyang", "Putin visits Pyongyang", "", True),
    ("Putin visit Pyongyang", "", "Putin's visit to Pyongyang", True),
    ("Putin visit Pyongyang", "Pyongyang visiting", "PUTIN", True),
    ("Putin visit Pyongyang", "", "Putin in Pyongyang", False),
    ("visit", "", "Visited", True),
    ("visiting", "", "a visit", True),
    ("sanctions", "", "UN sanction regime", True),
    ("Putin", "", "Put in", False),
    ("put", "", "Putin", False),
    # possessives, apostrophes, punctuation
    ("Putin", "", "Putin's", True),
    ("Pyongyang", "", "Pyongyang’s state media", True),
    ("Putin's", "", "Putin arrived", True),
    ("Korea", "", "N. Korea’s support", True),
    ("Korea", "", "(Korea)!", True),
    ("Élysée", "", "l’Élysée", True),
    # hyphens
    ("extra-time", "", "after extra time", True),
    ("extra-time", "", "an extra-time winner", True),
    ("extra-time", "", "time for extra", False),
    ("extra time", "", "extra-time", True),
    ("\"extra time\"", "", "extra-time", True),
    # case and accent folding
    ("cafe", "", "CAFÉ", True),
    ("Café", "", "cafe", True),
    ("naive", "", "naïve", True),
    ("strasse", "", "Straße", True),
    ("Zurich", "", "Zu\u0308rich", True),
    ("finance", "", "\ufb01nance", True),
    # phrases
    ("\"Kim Jong Un\"", "", "Kim Jong Un’s government", True),
    ("\"Kim Jong Un\"", "", "Kim Un Jong", False),
    ("\"Kim Jong Un\"", "", "Kim, Jong\nUn", True),
    ("\"visit Pyongyang\"", "", "visits Pyongyang", True),
    ("\"visit Pyongyang\"", "", "visit to Pyongyang", False),
    ("\"Pyongyang visit\"", "Pyongyang", "visit", False),
    # exact form: no stemming
    ("=visit", "", "visits", False),
    ("=visit", "", "Visit", True),
    ("=\"visiting Pyongyang\"", "", "visit Pyongyang", False),
    ("=\"visiting Pyongyang\"", "", "VISITING pyongyang", True),
    # OR, operators only in capitals
    ("extra-time OR penalties", "", "a penalty shoot-out", True),
    ("extra-time OR penalties", "", "a goal", False),
    ("Putin or Kim", "", "Putin met Kim", False),
    ("Putin or Kim", "", "Putin or Kim", True),
    ("Putin visit OR trip Pyongyang", "", "Putin's trip to Pyongyang", True),
    ("Putin visit OR trip Pyongyang", "", "Putin's trip", False),
    # AND, NOT, -
    ("Putin AND Kim", "", "Kim and Putin", True),
    ("Putin AND Kim", "", "Putin", False),
    ("Putin -Ukraine", "", "Putin in Ukraine", False),
    ("Putin -Ukraine", "", "Putin in Pyongyang", True),
    ("Putin NOT Ukraine", "", "Putin in Ukraine", False),
    ("Putin NOT (Ukraine OR Syria)", "", "Putin in Syria", False),
    ("Putin NOT (Ukraine OR Syria)", "", "Putin in Minsk", True),
    ("Putin -\"Kim Jong Un\"", "", "Putin and Kim Jong Un", False),
    ("Putin -\"Kim Jong Un\"", "", "Putin and Kim", True),
    ("Putin -title:sport", "Sport news", "Putin", False),
    ("Putin -title:sport", "World", "Putin sport", True),
    # parentheses
    ("(Putin OR Kim) (visit OR trip)", "", "Kim's trip", True),
    ("(Putin OR Kim) (visit OR trip)", "", "Kim Putin", False),
    ("(Putin visit) OR (Kim trip)", "", "Kim trip", True),
    ("(Putin visit) OR (Kim trip)", "", "Kim visit", False),
    # proximity
    ("Putin NEAR/3 Pyongyang", "", "Putin flew to Pyongyang", True),
    ("Putin NEAR/3 Pyongyang", "", "Pyongyang welcomed Putin", True),
    ("Putin NEAR/1 Pyongyang", "", "Putin flew to Pyongyang", False),
    ("Putin NEAR/0 Pyongyang", "", "Pyongyang, Putin", True),
    ("Putin NEAR/2 Pyongyang", "Putin", "Pyongyang", False),
    ("Putin NEAR Pyongyang", "", "Putin a b c d e Pyongyang", True),
    ("Putin NEAR Pyongyang", "", "Putin a b c d e f Pyongyang", False),
    ("\"Kim Jong Un\" NEAR/2 Putin", "", "Putin met Kim Jong Un", True),
    ("\"Kim Jong Un\" NEAR/2 Putin", "", "Kim Jong Un met with the Putin", False),
    ("(Putin OR Lavrov) NEAR/2 Kim", "", "Kim welcomed Lavrov", True),
    ("\"putin pyongyang\"~5", "", "Pyongyang, said Putin", True),
    ("\"putin pyongyang\"~1", "", "Putin flew to Pyongyang", False),
    ("\"new new\"~2", "", "a new car", False),
    ("\"new new\"~2", "", "new and new", True),
    ("Putin NEAR/3 Putin", "", "Putin met Putin", True),
    ("Putin NEAR/3 Putin", "", "Putin met", False),
    # prefix wildcards
    ("sanction*", "", "sanctioned entities", True),
    ("sanction*", "", "sanctity", False),
    ("Sanc*", "", "SANCTIONS", True),
    ("Pyong* NEAR/1 Putin", "", "Putin in Pyongyang", True),
    # field scopes
    ("title:visit", "Pyongyang Visit", "", True),
    ("title:visit", "Pyongyang", "a visit", False),
    ("body:visit", "Pyongyang Visit", "", False),
    ("title:\"Pyongyang visit\"", "Ahead Of Pyongyang Visit", "", True),
    ("title:(Putin OR Kim) Pyongyang", "Kim speaks", "in Pyongyang", True),
    ("title:Putin NEAR/3 Pyongyang", "Putin in Pyongyang", "", True),
    ("title:Putin NEAR/3 Pyongyang", "Putin", "Pyongyang", False),
]


@pytest.mark.parametrize(("query", "title", "body", "expected"), CASES)
def test_query_on_text(query: str, title: str, body: str, expected: bool) -> None:
    document = doc(body, title)
    parsed = parse_query(query)
    assert (matches_reference(parsed, document) is not None) is expected
    assert (len(RuleSet({"r": parsed}).match(document)) == 1) is expected


FIELD_DOC = Document(
    title="Summit",
    body="Leaders met.",
    authors=("Jane Smith", "John Doe"),
    source="BBC World",
    url="https://www.bbc.co.uk/news/world-asia-123?utm_source=x",
    language="en",
)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("author:smith", True),
        ("author:\"Jane Smith\"", True),
        ("author:\"Smith John\"", False),  # never across two authors
        ("smith", False),  # unscoped: title and body only
        ("source:bbc", True),
        ("source:\"BBC World\" leaders", True),
        ("source:reuters", False),
        ("url:bbc.co.uk", True),
        ("url:world-asia", True),
        ("url:europe", False),
        ("lang:en summit", True),
        ("lang:EN summit", True),
        ("lang:de summit", False),
        ("summit lang:de OR lang:en", True),
        ("-lang:de summit", True),
    ],
)
def test_field_scopes(query: str, expected: bool) -> None:
    parsed = parse_query(query)
    assert (matches_reference(parsed, FIELD_DOC) is not None) is expected
    assert bool(RuleSet({"r": parsed}).match(FIELD_DOC)) is expected


def test_unknown_language_counts_as_english() -> None:
    assert matches_reference(parse_query("lang:en visit"), doc("visits")) is not None


def test_stemmer_follows_document_language() -> None:
    german = doc("Die Häuser der Stadt", language="de")
    assert matches_reference(parse_query("Haus"), german) is not None
    assert matches_reference(parse_query("Haus"), doc("Die Häuser der Stadt")) is None
    french = doc("les sanctions économiques", language="fr")
    assert matches_reference(parse_query("économique"), french) is not None


def test_unsupported_language_matches_unstemmed() -> None:
    document = doc("新闻 北京", language="zh")
    assert matches_reference(parse_query("北京"), document) is not None


def test_hits_point_at_original_text() -> None:
    document = doc(PUTIN_BODY, PUTIN_TITLE)
    match = matches_reference(parse_query('Putin visit "Kim Jong Un"'), document, name="r")
    assert match is not None and match.rule == "r"
    texts = {(h.term, field_text(document, h.field)[h.start : h.end]) for h in match.hits}
    assert ("visit", "Visit") in texts
    assert ("visit", "visit") in texts
    assert ("Putin", "Putin") in texts
    assert ('"Kim Jong Un"', "Kim Jong Un") in texts
    assert all(h.field in ("title", "body") for h in match.hits)


def test_author_hit_offsets_index_the_joined_authors() -> None:
    match = matches_reference(parse_query("author:doe"), FIELD_DOC)
    assert match is not None
    (hit,) = match.hits
    assert hit == Hit("doe", "author", 17, 20)
    assert field_text(FIELD_DOC, "author")[hit.start : hit.end] == "Doe"


def test_near_hits_cover_both_sides() -> None:
    match = matches_reference(parse_query("Putin NEAR/5 Kim"), doc(PUTIN_BODY))
    assert match is not None
    assert {h.term for h in match.hits} == {"Putin", "Kim"}


def test_excluded_terms_leave_no_hits() -> None:
    match = matches_reference(parse_query("Putin -Minsk"), doc(PUTIN_BODY))
    assert match is not None and {h.term for h in match.hits} == {"Putin"}


def test_ruleset_returns_rules_in_their_order_with_hits() -> None:
    rules = {
        "b-visit": parse_query("Putin visit"),
        "a-sport": parse_query("football"),
        "c-kim": parse_query('"Kim Jong Un" OR Lavrov'),
        "d-prefix": parse_query("sanction*"),
    }
    document = doc(PUTIN_BODY, PUTIN_TITLE)
    found = RuleSet(rules).match(document)
    assert [m.rule for m in found] == ["b-visit", "c-kim", "d-prefix"]
    for m in found:
        assert m == matches_reference(rules[m.rule], document, name=m.rule)


@pytest.mark.parametrize("memory_full", [False, True])
def test_a_modifier_letter_apostrophe_is_part_of_the_word(memory_full: bool,
                                                          monkeypatch) -> None:
    """U+02BC (ʼ) is a letter, not punctuation: "Kimʼs" is one word, as the reference
    reads it, also once the matcher's word memory is full (a long-running daemon)."""
    if memory_full:
        monkeypatch.setattr("alerts.matcher._WordKeys._LIMIT", 0)
    rules = {"phrase": parse_query('"Kimʼs visit"'), "word": parse_query("Kimʼs"),
             "cut": parse_query("=Kimʼ"), "prefix": parse_query("Kim*")}
    document = doc("Kimʼs visit to the harbour ended on Tuesday.", "Kimʼs visit")
    expected = [m for m in (matches_reference(q, document, name=n) for n, q in rules.items())
                if m is not None]
    assert [m.rule for m in expected] == ["phrase", "word", "prefix"]
    assert RuleSet(rules).match_many([document]) == [expected]


def test_rules_sharing_a_query_each_match_in_their_order() -> None:
    """Readers watching the same name: each rule gets its match, in the rules' order,
    though the query is evaluated once."""
    rules = {
        "alice-putin": parse_query("Putin"),
        "bob-kim": parse_query('"Kim Jong Un"'),
        "carol-football": parse_query("football"),
        "dave-putin": parse_query("Putin"),
        "erin-kim": parse_query('"Kim Jong Un"'),
        "frank-football": parse_query("football"),
    }
    document = doc(PUTIN_BODY, PUTIN_TITLE)
    found = RuleSet(rules).match(document)
    assert [m.rule for m in found] == ["alice-putin", "bob-kim", "dave-putin", "erin-kim"]
    assert found[0].hits == found[2].hits and len(found[0].hits) == 4
    for m in found:
        assert m == matches_reference(rules[m.rule], document, name=m.rule)


def test_a_rule_picked_by_its_language_still_sees_its_excluded_word() -> None:
    """`lang:en -Putin` is tried on every English article: its excluded word must be
    looked for though no indexed word brought the rule in."""
    ruleset = RuleSet({"english, not Putin": parse_query("lang:en -Putin")})
    assert ruleset.match(doc("Putin spoke.", language="en")) == []
    assert [m.rule for m in ruleset.match(doc("Kim spoke.", language="en"))] == [
        "english, not Putin"]


def test_a_batch_leaves_the_cycle_collector_as_it_found_it() -> None:
    # match_many pauses the collector while it works; a caller must get it back as it
    # was, whether the batch answers or raises, and one that had turned it off keeps it off.
    ruleset = RuleSet({"putin": parse_query("Putin")})
    doc = Document(title="Putin", body="Putin visits")
    assert gc.isenabled()
    assert ruleset.match_many([doc]) == [[Match("putin", (Hit("Putin", "title", 0, 5),
                                                          Hit("Putin", "body", 0, 5)))]]
    assert gc.isenabled()
    with pytest.raises(AttributeError):
        ruleset.match_many([doc, Document(title=None, body="Putin")])  # type: ignore[arg-type]
    assert gc.isenabled()
    gc.disable()
    try:
        ruleset.match_many([doc])
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_empty_document_and_empty_ruleset() -> None:
    assert RuleSet({}).match(doc("anything")) == []
    assert RuleSet({"r": parse_query("x")}).match(doc("")) == []


def _seed() -> dict:
    return json.loads(SEED.read_text(encoding="utf-8"))


@pytest.mark.skipif(not SEED.exists(), reason="shared seed fixture not present")
def test_seed_fixture_rules_match_exactly_their_articles() -> None:
    seed = _seed()
    documents = {
        a["path"]: Document(
            title=a["title"], body="\n\n".join(a["body_paragraphs"]), authors=(a["author"],)
        )
        for a in seed["articles"]
    }
    ruleset = RuleSet({r["query"]: parse_query(r["query"]) for r in seed["rules"]})
    matched_by_rule: dict[str, list[str]] = {r["query"]: [] for r in seed["rules"]}
    for path, document in documents.items():
        for match in ruleset.match(document):
            matched_by_rule[match.rule].append(path)
    for rule in seed["rules"]:
        assert matched_by_rule[rule["query"]] == rule["matches"], rule["query"]
        query = parse_query(rule["query"])
        reference = [p for p, d in documents.items() if matches_reference(query, d)]
        assert reference == rule["matches"], rule["query"]


# ---------------------------------------------------------------- snippets

LONG_BODY = " ".join(f"filler{i}" for i in range(60)) + (
    " Putin flew to Pyongyang on Tuesday.\n\nThe visit was his first in years. "
) + " ".join(f"tail{i}" for i in range(60))


def _snippet_for(query: str, document: Document, width: int = 120) -> tuple[str, list]:
    match = matches_reference(parse_query(query), document)
    assert match is not None
    return snippet_spans(document, match.hits, width)


def test_snippet_centres_on_the_body_hits_and_marks_them() -> None:
    document = doc(LONG_BODY, "Summit")
    text, spans = _snippet_for("Putin Pyongyang visit", document)
    assert [text[s:e] for s, e in spans] == ["Putin", "Pyongyang", "visit"]
    assert text.startswith("…") and text.endswith("…")
    assert "\n" not in text and "  " not in text
    assert len(text) <= 120 + 2
    match = matches_reference(parse_query("Putin Pyongyang visit"), document)
    assert match is not None
    marked = snippet(document, match.hits, width=120)
    assert "«Putin» flew to «Pyongyang»" in marked and "The «visit» was" in marked
    assert snippet(document, match.hits, 120, markers=("**", "**")).count("**") == 6


def test_snippet_never_cuts_words() -> None:
    text, _ = _snippet_for("Pyongyang", doc(LONG_BODY), width=60)
    words = text.strip("…").split()
    assert all(w in LONG_BODY.split() or w.rstrip(".") in LONG_BODY for w in words)


def test_snippet_uses_the_title_when_only_the_title_matched() -> None:
    document = doc(LONG_BODY, "Kim Jong Un welcomes guests")
    text, spans = _snippet_for('title:"Kim Jong Un"', document)
    assert text == "Kim Jong Un welcomes guests"
    assert spans == [(0, 11)]


def test_snippet_without_hits_is_the_start_of_the_body() -> None:
    text, spans = snippet_spans(doc(LONG_BODY), [], width=50)
    assert text.startswith("filler0 filler1") and text.endswith("…") and spans == []
    assert snippet_spans(doc("", "Only a title"), [], 50) == ("Only a title", [])


def test_snippet_of_a_short_body_is_all_of_it() -> None:
    document = doc("Putin's visit  to\nPyongyang.")
    text, spans = _snippet_for("Putin visit", document)
    assert text == "Putin's visit to Pyongyang."
    assert [text[s:e] for s, e in spans] == ["Putin", "visit"]


def test_snippet_merges_overlapping_hits_and_ignores_foreign_ones() -> None:
    document = doc("Kim Jong Un met Putin")
    hits = [Hit('"Kim Jong"', "body", 0, 8), Hit('"Jong Un"', "body", 4, 11),
            Hit("x", "body", 50, 60), Hit("y", "url", 0, 3)]
    assert snippet_spans(document, hits) == ("Kim Jong Un met Putin", [(0, 11)])


def test_very_long_queries_match() -> None:
    words = [f"word{i}" for i in range(3000)]
    any_word = parse_query(" OR ".join(words))
    all_words = parse_query(" ".join(words))
    document = doc("filler word2999 filler", language="de")
    assert RuleSet({"any": any_word, "all": all_words}).match(document) == [
        Match("any", (Hit("word2999", "body", 7, 15),))
    ]
    assert matches_reference(all_words, doc(" ".join(words))) is not None


def test_arbitrary_unicode_documents_match_without_errors() -> None:
    text = "🙂 Пу́тин ПУТИН \u0000 \ud800 北京 नमस्ते ǅ İstanbul ﬁ ½ \u200b"
    ruleset = RuleSet({"r": parse_query("путин istanbul")})
    assert [m.rule for m in ruleset.match(doc(text, language="ru"))] == ["r"]
    assert [m.rule for m in ruleset.match(doc(text, language="xx-YY"))] == ["r"]


def test_a_full_word_table_still_analyses_new_words(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the size limit of the per-language word tables, new words are analysed for
    the text at hand and not kept: the same tokens, the tables unchanged."""
    import alerts.text as text_module
    from alerts.text import _analysis_tables, analyse_columns, tokenize

    monkeypatch.setattr(text_module, "_TABLE_LIMIT", 0)
    body = "Neverseenbefore Putin's visits to Qwertyuiopstadt"
    before = len(_analysis_tables("fr")[0])
    columns = analyse_columns(body, "fr")
    assert columns.stems == [t.stem for t in tokenize(body, "fr")]
    assert columns.starts == [t.start for t in tokenize(body, "fr")]
    assert len(_analysis_tables("fr")[0]) == before
    assert [m.rule for m in RuleSet({"r": parse_query("qwertyuiopstadt")}).match(
        doc(body, language="fr"))] == ["r"]
