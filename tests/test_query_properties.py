"""Property tests: printing round-trips, nothing crashes, the index never changes answers."""

from __future__ import annotations

import random
import unicodedata

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from alerts.highlight import snippet, snippet_spans
from alerts.matcher import Document, RuleSet, match_every_rule, matches_reference
from alerts.query import (
    FIELDS,
    And,
    Lang,
    Near,
    Not,
    Or,
    Phrase,
    Prefix,
    Query,
    QueryError,
    Scope,
    Word,
    format_query,
    parse_query,
)
from alerts.text import WordSplit, analyse_columns, fold, iter_word_spans, tokenize

VOCABULARY = [
    "Putin", "visit", "visits", "visiting", "Pyongyang", "Kim", "Jong", "Un", "sanction",
    "sanctions", "Korea", "north", "extra", "time", "sport", "news", "the", "a", "Café",
    "naïve", "Straße", "OR", "and",
]
SEPARATORS = [" ", " ", " ", ", ", "-", "’s ", "'s ", "\n\n", ". ", " (", ") "]
LANGUAGES = [None, "en", "de", "fr", "zh", "EN-gb", ""]

fast = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
slow = settings(fast, max_examples=60)

# ---------------------------------------------------------------- query trees

bare_word = st.one_of(
    st.sampled_from([w for w in VOCABULARY if w not in ("OR",)]),
    st.sampled_from(["extra-time", "Putin's", "U.S.", "x2", "北京", "e-mail"]),
    st.from_regex(r"[a-zA-Zà-öø-ÿ0-9]{1,8}", fullmatch=True).filter(
        lambda w: w not in ("AND", "OR", "NOT", "NEAR")
    ),
)
phrase_text = st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=4).map(" ".join)

term = st.one_of(
    st.builds(Word, bare_word, st.booleans()),
    st.builds(Prefix, st.from_regex(r"[a-z]{1,6}", fullmatch=True)),
    st.builds(Phrase, phrase_text, st.booleans(), st.none() | st.integers(0, 8)),
)
distance = st.integers(0, 10)
field = st.sampled_from(FIELDS)


def _combine_positional(inner: st.SearchStrategy[Query]) -> st.SearchStrategy[Query]:
    return st.one_of(
        st.builds(Near, inner, inner, distance),
        st.lists(inner, min_size=2, max_size=3).map(lambda ops: Or(tuple(ops))),
        st.builds(Scope, field, inner),
    )


positional = st.recursive(term, _combine_positional, max_leaves=3)


def _combine_boolean(inner: st.SearchStrategy[Query]) -> st.SearchStrategy[Query]:
    return st.one_of(
        st.lists(inner, min_size=2, max_size=3).map(lambda ops: And(tuple(ops))),
        st.builds(_and_not, st.lists(inner, min_size=1, max_size=2), inner, st.integers(0, 2)),
        st.lists(inner, min_size=2, max_size=3).map(lambda ops: Or(tuple(ops))),
        st.builds(Scope, field, inner),
    )


def _and_not(included: list[Query], excluded: Query, where: int) -> And:
    operands = list(included)
    operands.insert(min(where, len(operands)), Not(excluded))
    return And(tuple(operands))


positive = st.recursive(
    positional | st.builds(Lang, st.sampled_from(["en", "de", "fr"])),
    _combine_boolean,
    max_leaves=6,
)


# ---------------------------------------------------------------- documents

@st.composite
def vocabulary_text(draw: st.DrawFn, max_words: int = 25) -> str:
    words = draw(st.lists(st.sampled_from(VOCABULARY), max_size=max_words))
    parts = []
    for word in words:
        parts += [_disguise(draw, word), draw(st.sampled_from(SEPARATORS))]
    return "".join(parts)


def _disguise(draw: st.DrawFn, word: str) -> str:
    case = draw(st.sampled_from([str, str.upper, str.lower, str.title]))
    return case(word)


documents = st.builds(
    Document,
    title=vocabulary_text(max_words=6),
    body=vocabulary_text(),
    authors=st.lists(vocabulary_text(max_words=3), max_size=2).map(tuple),
    source=vocabulary_text(max_words=2),
    url=st.sampled_from(["", "https://news.example/putin-visit?x=1", "http://a.b/c"]),
    language=st.sampled_from(LANGUAGES),
)
arbitrary_documents = st.builds(
    Document,
    title=st.text(max_size=80),
    body=st.text(max_size=400),
    authors=st.lists(st.text(max_size=20), max_size=3).map(tuple),
    source=st.text(max_size=20),
    url=st.text(max_size=40),
    language=st.none() | st.text(max_size=8),
)


# ---------------------------------------------------------------- properties


@fast
@given(positive)
def test_printed_query_parses_back_to_the_same_query(query: Query) -> None:
    assert parse_query(format_query(query)) == query


@fast
@given(st.text(alphabet='ab Putin"()-=*~:/NEAR5ORANDTtitlelang \n\u00e9\u0301', max_size=40))
def test_parser_raises_only_query_errors_on_syntax_soup(text: str) -> None:
    _parse_or_query_error(text)


@fast
@given(st.text(max_size=200))
def test_parser_raises_only_query_errors_on_any_unicode(text: str) -> None:
    _parse_or_query_error(text)


def _parse_or_query_error(text: str) -> None:
    try:
        query = parse_query(text)
    except QueryError as error:
        assert 0 <= error.position <= len(text)
        assert str(error).startswith(f"column {error.position + 1}: expected ")
    else:
        assert parse_query(format_query(query)) == query


@fast
@given(positive, arbitrary_documents)
def test_matching_never_raises_on_arbitrary_text(query: Query, doc: Document) -> None:
    match = matches_reference(query, doc, name="r")
    assert RuleSet({"r": query}).match(doc) == ([match] if match else [])
    if match is not None:
        text, spans = snippet_spans(doc, match.hits, width=60)
        assert all(0 <= s < e <= len(text) for s, e in spans)
        snippet(doc, match.hits)


@slow
@given(st.lists(positive, min_size=1, max_size=25), st.lists(documents, min_size=1, max_size=6))
def test_indexed_ruleset_agrees_with_reference(queries: list[Query], docs: list[Document]) -> None:
    rules = {f"rule{i}": q for i, q in enumerate(queries)}
    ruleset = RuleSet(rules)
    for doc in docs:
        assert ruleset.match(doc) == match_every_rule(rules, doc)


@fast
@given(st.lists(positive, min_size=1, max_size=4), st.lists(documents, min_size=1, max_size=4))
def test_a_ruleset_anchored_without_word_frequencies_agrees_with_reference(
    queries: list[Query], docs: list[Document]
) -> None:
    """`by_rarity=False` (search, rules test) picks other anchors, never other matches."""
    rules = {f"rule{i}": q for i, q in enumerate(queries)}
    ruleset = RuleSet(rules, by_rarity=False)
    for doc in docs:
        assert ruleset.match(doc) == match_every_rule(rules, doc)


@fast
@given(positive, documents, st.randoms(use_true_random=False))
def test_case_and_accents_do_not_change_matches(query: Query, doc: Document,
                                                rnd: random.Random) -> None:
    def disguise(text: str) -> str:
        return "".join(_accent(ch, rnd) for ch in text)

    changed = Document(disguise(doc.title), disguise(doc.body), doc.authors, doc.source,
                       doc.url, doc.language)
    assert (matches_reference(query, doc) is None) == (matches_reference(query, changed) is None)


def _accent(ch: str, rnd: random.Random) -> str:
    if ch.isascii() and ch.isalpha():
        ch = ch.upper() if rnd.random() < 0.3 else ch
        if ch.lower() in "aeiou" and rnd.random() < 0.3:
            return unicodedata.normalize("NFC", ch + rnd.choice("\u0301\u0300\u0308"))
    return ch


def test_indexed_ruleset_agrees_with_reference_on_a_large_generated_set() -> None:
    rnd = random.Random(20240618)
    queries = [_random_query(rnd) for _ in range(1000)]
    rules = {f"r{i}": parse_query(q) for i, q in enumerate(queries)}
    ruleset = RuleSet(rules)
    matched = 0
    for _ in range(60):
        doc = Document(
            title=" ".join(rnd.choices(VOCABULARY, k=5)),
            body=" ".join(rnd.choices(VOCABULARY, k=rnd.randint(0, 60))),
            language=rnd.choice(LANGUAGES),
        )
        expected = match_every_rule(rules, doc)
        assert ruleset.match(doc) == expected
        matched += len(expected)
    assert matched > 1000  # the set exercises matches, not only misses


def _random_query(rnd: random.Random) -> str:
    words = [w for w in VOCABULARY if w not in ("OR",)]

    def atom() -> str:
        kind = rnd.random()
        if kind < 0.5:
            return rnd.choice(words)
        if kind < 0.65:
            return '"' + " ".join(rnd.choices(words, k=2)) + '"'
        if kind < 0.75:
            return rnd.choice(words)[:3].lower() + "*"
        if kind < 0.85:
            return f"{rnd.choice(words)} NEAR/{rnd.randint(0, 6)} {rnd.choice(words)}"
        return f"{rnd.choice(['title', 'body'])}:{rnd.choice(words)}"

    parts = [atom() for _ in range(rnd.randint(1, 3))]
    if rnd.random() < 0.3:
        parts.append(f"({atom()} OR {atom()})")
    if rnd.random() < 0.3:
        parts.append(f"-({atom()})")
    return " ".join(parts)


# ---------------------------------------------------------------- the fast path

@fast
@given(st.one_of(st.text(max_size=300), vocabulary_text(max_words=40)),
       st.sampled_from([*LANGUAGES, "ru", "xx"]))
def test_columnar_analysis_gives_the_tokens_of_tokenize(text: str, language: str | None) -> None:
    tokens = tokenize(text, language)
    assert analyse_columns(text, language) == (
        [t.surface for t in tokens], [t.stem for t in tokens],
        [t.start for t in tokens], [t.end for t in tokens],
    )


@fast
@given(st.text(alphabet="as'’ʼ_S \u0301é", max_size=30))
def test_columnar_analysis_drops_possessives_and_underscores_like_tokenize(text: str) -> None:
    tokens = tokenize(text)
    assert analyse_columns(text).starts == [t.start for t in tokens]
    assert analyse_columns(text).surfaces == [t.surface for t in tokens]


# Characters where splitting words is subtle: apostrophes (possessives), underscores,
# combining marks in and outside the Basic Multilingual Plane (only the former join
# words), a mark-only word, no-break and other spaces, digits of other scripts, a lone
# surrogate, fractions, ideographs and punctuation outside ASCII.
TRICKY_CHARACTERS = "as'’ʼ_S \u0301\U0001d167é\u00a0\u2009½٣ß北\ud800“”—.-\n"


@fast
@given(st.one_of(st.text(max_size=300), st.text(alphabet=TRICKY_CHARACTERS, max_size=40),
                 vocabulary_text(max_words=40)))
@example("Putin’s visit, the ’s of a ’s, x_’s and a's: s’s")
@example("Kimʼs visit")  # U+02BC is a letter: "Kimʼs" is one word, not a possessive
def test_word_split_finds_the_words_and_offsets_of_the_word_pattern(text: str) -> None:
    split = WordSplit(text)
    starts = split.starts_of_every(split.words)
    assert [(word, start, start + len(word))
            for word, start in zip(split.words, starts, strict=True)] == list(iter_word_spans(text))
    some = set(split.words[::3])  # every occurrence of some of the words
    assert WordSplit(text).starts_of_every([word for word in split.words if word in some]) == [
        start for word, start in zip(split.words, starts, strict=True) if word in some]


prefix_rule = st.builds(
    lambda prefix, field, other: (
        Scope(field, Prefix(prefix)) if field else And((Prefix(prefix), other))
        if other is not None else Prefix(prefix)
    ),
    st.from_regex(r"[a-z]{1,4}", fullmatch=True) | st.sampled_from(["put", "sanc", "vis", "py"]),
    st.sampled_from([None, None, "title", "body", "author", "source", "url"]),
    st.none() | positional,
)


@slow
@given(st.lists(prefix_rule, min_size=16, max_size=40), st.lists(positive, max_size=10),
       st.lists(documents, min_size=1, max_size=4))
def test_many_prefix_rules_agree_with_reference(prefixes: list[Query], others: list[Query],
                                                docs: list[Document]) -> None:
    """Enough prefixes for the Aho-Corasick presearch, in every field and combined."""
    rules = {f"rule{i}": q for i, q in enumerate([*prefixes, *others])}
    ruleset = RuleSet(rules)
    for doc in docs:
        assert ruleset.match(doc) == match_every_rule(rules, doc)


common_word = st.builds(Word, st.sampled_from(VOCABULARY[:12]))
flat_rule = st.builds(
    lambda required, alternatives, excluded: And(tuple(
        [*required, *([Or(tuple(alternatives))] if len(alternatives) > 1 else alternatives),
         *[Not(e) for e in excluded]]
    )),
    st.lists(common_word | term | st.builds(Scope, field, term)
             | st.builds(Lang, st.sampled_from(["en", "de"])), min_size=1, max_size=3),
    st.lists(common_word | term | st.builds(Scope, field, term), max_size=3),
    st.lists(term | st.builds(Scope, field, term)
             | st.lists(common_word, min_size=2, max_size=3).map(lambda ops: Or(tuple(ops))),
             max_size=2),
)


@fast
@given(st.lists(flat_rule, min_size=1, max_size=30), st.lists(documents, min_size=1, max_size=5))
def test_flat_programs_agree_with_reference(queries: list[Query], docs: list[Document]) -> None:
    """Words, phrases, prefixes, OR groups, exclusions, scopes and lang: as flat programs."""
    rules = {f"rule{i}": q for i, q in enumerate(queries)}
    ruleset = RuleSet(rules)
    for doc in docs:
        assert ruleset.match(doc) == match_every_rule(rules, doc)


# ---------------------------------------------------------------- anchors, sparse fields

# Words and separators that make a field's tokens differ from its words: possessive
# "s" (dropped), words of combining marks only (dropped), underscores (split), and "s"
# as a word of its own.
TRICKY_WORDS = [*VOCABULARY, "s", "S", "\u0301\u0300", "Putin_visit", "Kim's", "visit’s"]
TRICKY_SEPARATORS = [*SEPARATORS, "'", "’", "_", " \u0301 ", " s "]


@st.composite
def tricky_text(draw: st.DrawFn, max_words: int = 30) -> str:
    words = draw(st.lists(st.sampled_from(TRICKY_WORDS), max_size=max_words))
    return "".join(_disguise(draw, w) + draw(st.sampled_from(TRICKY_SEPARATORS))
                   for w in words)


tricky_documents = st.builds(
    Document,
    title=tricky_text(max_words=6),
    body=tricky_text(),
    authors=st.lists(tricky_text(max_words=3), max_size=2).map(tuple),
    source=tricky_text(max_words=2),
    language=st.sampled_from(LANGUAGES),
)
tricky_term = st.one_of(
    term,
    st.builds(Word, st.sampled_from(["s", "S", "Kim's", "putin_visit"]), st.booleans()),
    st.builds(Phrase, st.sampled_from(["Kim s visit", "visit s", "Putin visit", "the news"]),
              st.booleans(), st.none() | st.integers(0, 3)),
)
tricky_rule = st.recursive(
    tricky_term | st.builds(Lang, st.sampled_from(["en", "de"])),
    lambda inner: st.one_of(
        st.builds(Near, inner, inner, distance),
        st.lists(inner, min_size=2, max_size=3).map(lambda ops: And(tuple(ops))),
        st.lists(inner, min_size=2, max_size=3).map(lambda ops: Or(tuple(ops))),
        st.builds(_and_not, st.lists(inner, min_size=1, max_size=2), inner, st.integers(0, 2)),
        st.builds(Scope, field, inner),
    ),
    max_leaves=5,
)


def _valid(query: Query) -> bool:
    try:
        return parse_query(format_query(query)) == query
    except QueryError:
        return False


@slow
@given(st.lists(tricky_rule.filter(_valid), min_size=1, max_size=25),
       st.lists(tricky_documents, min_size=1, max_size=5))
def test_anchored_rules_on_sparse_fields_agree_with_reference(
        queries: list[Query], docs: list[Document]) -> None:
    """Rules anchored on their rarest clause, evaluated on titles and bodies reduced to the
    tokens the rules look for, with possessives, mark-only words and underscores shifting
    token positions: every operator (NEAR, phrases, sloppy phrases, OR, NOT, prefixes,
    fields, lang:) gives the brute-force answer."""
    rules = {f"rule{i}": q for i, q in enumerate(queries)}
    ruleset = RuleSet(rules)
    for doc in docs:
        assert ruleset.match(doc) == match_every_rule(rules, doc)


def test_rules_agree_with_reference_once_the_word_memory_is_full(monkeypatch) -> None:
    """Past the words it remembers, the matcher analyses fields whole: same answers."""
    from alerts.matcher import _WordKeys

    monkeypatch.setattr(_WordKeys, "_LIMIT", 3)
    rnd = random.Random(14)
    rules = {f"r{i}": parse_query(_random_query(rnd)) for i in range(300)}
    ruleset = RuleSet(rules)
    matched = 0
    for _ in range(30):
        doc = Document(title=" ".join(rnd.choices(TRICKY_WORDS, k=4)),
                       body=" ".join(rnd.choices(TRICKY_WORDS, k=40)), language="en")
        expected = match_every_rule(rules, doc)
        assert ruleset.match(doc) == expected
        matched += len(expected)
    assert matched > 50


def test_words_only_in_exclusions_or_alternatives_are_still_looked_for() -> None:
    """A rule is indexed by some of its words only; the others (excluded, in an OR's
    other phrases, the rest of a phrase) must still be found when it is evaluated."""
    rules = {name: parse_query(text) for name, text in {
        "excluded phrase": 'Putin -"the news"',
        "phrase in an OR": '"north Korea visit" OR Pyongyang',
        "NEAR in an OR": '(visit NEAR/2 Korea) OR sanction*',
        "excluded prefix": "Putin -sanc*",
    }.items()}
    docs = [
        Document(title="", body="Putin read the news of a visit to north Korea."),
        Document(title="", body="Putin's north Korea visit: sanctions loom."),
        Document(title="", body="Putin went to Pyongyang."),
    ]
    ruleset = RuleSet(rules)
    answers = [[m.rule for m in ruleset.match(doc)] for doc in docs]
    assert answers == [[m.rule for m in match_every_rule(rules, doc)] for doc in docs]
    assert answers == [["NEAR in an OR", "excluded prefix"],
                       ["excluded phrase", "phrase in an OR", "NEAR in an OR"],
                       ["excluded phrase", "phrase in an OR", "excluded prefix"]]


@slow
@given(st.lists(tricky_rule.filter(_valid), min_size=1, max_size=8),
       st.lists(st.integers(0, 7), min_size=2, max_size=30),
       st.lists(tricky_documents, min_size=1, max_size=4))
def test_rules_sharing_queries_agree_with_reference(
        pool: list[Query], picks: list[int], docs: list[Document]) -> None:
    """Many readers with the same queries (every operator), interleaved: each query is
    evaluated once, yet every rule gets the brute-force answer, in the rules' order."""
    rules = {f"reader{i}": pool[pick % len(pool)] for i, pick in enumerate(picks)}
    ruleset = RuleSet(rules)
    for doc in docs:
        assert ruleset.match(doc) == match_every_rule(rules, doc)


# ---------------------------------------------------------------- folding


def _fold_by_definition(word: str) -> str:
    """alerts.text.fold's definition, without its shortcut for plain ASCII words."""
    decomposed = unicodedata.normalize("NFKD", word)
    folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    if folded.isalnum():
        return folded
    return "".join(ch for ch in folded if ch.isalnum() or unicodedata.category(ch)[0] == "M")


@fast
@given(st.one_of(st.text(max_size=12), st.from_regex(r"[ -~]{0,12}", fullmatch=True)))
def test_folding_a_word_follows_its_definition(word: str) -> None:
    assert fold(word) == _fold_by_definition(word)


# ---------------------------------------------------------------- batches

def _batches_agree(rules: dict[str, Query], docs: list[Document]) -> None:
    """`match_many` gives every document the brute-force answer, on a fresh rule set
    (the batch's words all new) and again once they are learnt."""
    expected = [match_every_rule(rules, doc) for doc in docs]
    ruleset = RuleSet(rules)
    assert ruleset.match_many(docs) == expected
    assert ruleset.match_many(reversed(docs)) == expected[::-1]


@slow
@given(st.lists(tricky_rule.filter(_valid), min_size=1, max_size=25),
       st.lists(tricky_documents, min_size=1, max_size=8))
def test_batches_agree_with_reference(queries: list[Query], docs: list[Document]) -> None:
    """A batch of documents in several languages, with possessives, mark-only words and
    underscores, against rules of every operator (NEAR, phrases, sloppy phrases, OR, NOT,
    prefixes, fields, lang:): the brute-force answer for each document."""
    _batches_agree({f"rule{i}": q for i, q in enumerate(queries)}, docs)


@fast
@given(st.lists(positive, min_size=1, max_size=25),
       st.lists(documents | arbitrary_documents, min_size=1, max_size=8))
def test_batches_of_any_text_agree_with_reference(queries: list[Query],
                                                  docs: list[Document]) -> None:
    _batches_agree({f"rule{i}": q for i, q in enumerate(queries)}, docs)


def test_batches_agree_with_reference_once_the_word_memory_is_full(monkeypatch) -> None:
    """A batch with more new words than the matcher remembers is analysed as single
    documents are past that point: same answers."""
    from alerts.matcher import _WordKeys

    monkeypatch.setattr(_WordKeys, "_LIMIT", 3)
    rnd = random.Random(15)
    rules = {f"r{i}": parse_query(_random_query(rnd)) for i in range(300)}
    docs = [Document(title=" ".join(rnd.choices(TRICKY_WORDS, k=4)),
                     body=" ".join(rnd.choices(TRICKY_WORDS, k=40)),
                     language=rnd.choice(LANGUAGES)) for _ in range(30)]
    expected = [match_every_rule(rules, doc) for doc in docs]
    ruleset = RuleSet(rules)
    assert ruleset.match_many(docs[:1]) == expected[:1]  # fills the memory
    assert ruleset.match_many(docs) == expected
    assert sum(map(len, expected)) > 50
