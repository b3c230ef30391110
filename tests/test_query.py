"""The query parser: the tree it builds, how it prints, and the errors it reports."""

from __future__ import annotations

import pytest

from alerts.query import (
    And,
    Lang,
    Near,
    Not,
    Or,
    Phrase,
    Prefix,
    QueryError,
    Scope,
    Word,
    format_query,
    parse_query,
)

W = Word

PARSED = [
    ("Putin", W("Putin")),
    ("Putin visit Pyongyang", And((W("Putin"), W("visit"), W("Pyongyang")))),
    ("Putin AND visit", And((W("Putin"), W("visit")))),
    ("Putin or Kim", And((W("Putin"), W("or"), W("Kim")))),
    ("Putin Or Kim", And((W("Putin"), W("Or"), W("Kim")))),
    ("a OR b", Or((W("a"), W("b")))),
    ("a OR b OR c", Or((W("a"), W("b"), W("c")))),
    ("a b OR c d", And((W("a"), Or((W("b"), W("c"))), W("d")))),
    ("(a b) OR c", Or((And((W("a"), W("b"))), W("c")))),
    ("a AND b OR c", And((W("a"), Or((W("b"), W("c")))))),
    ("a -b", And((W("a"), Not(W("b"))))),
    ("a NOT b", And((W("a"), Not(W("b"))))),
    ("a -(b OR c)", And((W("a"), Not(Or((W("b"), W("c"))))))),
    ("a NOT \"b c\"", And((W("a"), Not(Phrase("b c"))))),
    ("extra-time", W("extra-time")),
    ("Putin's", W("Putin's")),
    ('"Kim Jong Un"', Phrase("Kim Jong Un")),
    ('"putin pyongyang"~5', Phrase("putin pyongyang", slop=5)),
    ('="visit"', Phrase("visit", exact=True)),
    ("=visit", W("visit", exact=True)),
    ('="a b"~2', Phrase("a b", exact=True, slop=2)),
    ("sanction*", Prefix("sanction")),
    ("a NEAR/5 b", Near(W("a"), W("b"), 5)),
    ("a NEAR b", Near(W("a"), W("b"), 5)),
    ("a NEAR/1 b NEAR/2 c", Near(Near(W("a"), W("b"), 1), W("c"), 2)),
    ('"a b" NEAR/3 c*', Near(Phrase("a b"), Prefix("c"), 3)),
    ("(a OR b) NEAR/3 c", Near(Or((W("a"), W("b"))), W("c"), 3)),
    ("a NEAR/3 b OR c", Or((Near(W("a"), W("b"), 3), W("c")))),
    ("title:visit", Scope("title", W("visit"))),
    ("Title:visit", Scope("title", W("visit"))),
    ('body:"a b"', Scope("body", Phrase("a b"))),
    ("author:(smith OR doe)", Scope("author", Or((W("smith"), W("doe"))))),
    ("source:bbc url:x.org", And((Scope("source", W("bbc")), Scope("url", W("x.org"))))),
    ("title:=visit", Scope("title", W("visit", exact=True))),
    ("title:sanc*", Scope("title", Prefix("sanc"))),
    ("lang:DE haus", And((Lang("de"), W("haus")))),
    ("-title:sport news", And((Not(Scope("title", W("sport"))), W("news")))),
    ("10:30 https://x.org/a", And((W("10:30"), W("https://x.org/a")))),
    ("(((a)))", W("a")),
    ("a\tb\nc", And((W("a"), W("b"), W("c")))),
    ("北京 Zürich", And((W("北京"), W("Zürich")))),
]


@pytest.mark.parametrize(("text", "expected"), PARSED)
def test_parses_to_tree(text: str, expected: object) -> None:
    assert parse_query(text) == expected


@pytest.mark.parametrize(("text", "expected"), PARSED)
def test_printed_query_parses_back_to_the_same_tree(text: str, expected: object) -> None:
    query = parse_query(text)
    assert parse_query(str(query)) == query
    assert str(query) == format_query(query)


@pytest.mark.parametrize(
    ("tree", "printed"),
    [
        (And((W("a"), Or((W("b"), W("c"))))), "a b OR c"),
        (Or((And((W("a"), W("b"))), W("c"))), "(a b) OR c"),
        (And((W("a"), And((W("b"), W("c"))))), "a (b c)"),
        (Near(W("a"), Near(W("b"), W("c"), 2), 1), "a NEAR/1 (b NEAR/2 c)"),
        (Scope("title", Or((W("a"), W("b")))), "title:(a OR b)"),
        (And((W("x"), Not(Phrase("a b", exact=True, slop=3)))), 'x -="a b"~3'),
        (Lang("fr"), "lang:fr"),
    ],
)
def test_prints_minimal_parentheses(tree: object, printed: str) -> None:
    assert format_query(tree) == printed  # type: ignore[arg-type]
    assert parse_query(printed) == tree


# (query, 0-based position, words the expectation must contain)
ERRORS = [
    ("", 0, "the query is empty"),
    ("   \n", 0, "the query is empty"),
    ("Putin OR", 8, "a term after OR"),
    ("OR Putin", 0, "a term before OR"),
    ("Putin AND", 9, "a term after AND"),
    ("AND", 0, "a term before AND"),
    ("a OR OR b", 5, "a term after OR"),
    ("a NEAR/5", 8, "a term after NEAR/5"),
    ("NEAR/3 a", 0, "a term before NEAR/3"),
    ("(Putin visit", 12, 'a closing ")"'),
    ("a (b (c)", 8, 'a closing ")" for the "(" at column 3'),
    ("Putin)", 5, 'an opening "("'),
    ("()", 1, 'a term between "(" and ")"'),
    ('"Kim Jong', 9, 'a closing " for the quote opened at column 1'),
    ('a "b" "c', 8, "closing"),
    ('""', 0, "words between the quotes"),
    ('"!!"', 0, "words between the quotes"),
    ("-Putin", 0, "can only exclude"),
    ("NOT Putin", 0, "can only exclude"),
    ("-a -b", 0, "can only exclude"),
    ("-(a b)", 0, "can only exclude"),
    ("title:(-a)", 0, "can only exclude"),
    ("a OR -b", 5, "present on each side of OR"),
    ("-b OR a", 0, "present on each side of OR"),
    ("- Putin", 1, "right after -"),
    ("Putin -", 7, "right after -"),
    ("--a", 1, "a term after -"),
    ("NOT NOT a", 4, "a term after NOT"),
    ("a NOT", 5, "a term after NOT"),
    ("a NEAR/x b", 7, 'a number of words after "NEAR/"'),
    ("a NEAR/ b", 7, 'a number of words after "NEAR/"'),
    ("a NEAR/5000 b", 7, "at most 1000"),
    ('"a b"~', 6, 'a number of words after "~"'),
    ('"a b"~99999', 6, "at most 1000"),
    ("-a NEAR/2 b", 0, "beside NEAR"),
    ("a NEAR/2 (b c)", 9, "beside NEAR"),
    ("title: visit", 6, "right after title:"),
    ("title:", 6, "right after title:"),
    ("title:-visit", 6, "a term after title:"),
    ("lang:german", 5, "a language code"),
    ("lang:", 5, "a language code"),
    ("= visit", 1, "a word or a quoted phrase right after ="),
    ("=(a)", 1, "a word or a quoted phrase"),
    ("*", 0, "a single word"),
    ("extra-t*", 0, "a single word"),
    ("sanc*ion", 4, "a * only at the end"),
    ('"sanction*"', 9, "no * inside quotes"),
    ("Putin & Kim", 6, "a word with letters or digits"),
    ("(" * 60 + "a" + ")" * 60, 40, "at most 40 nested groups"),
    ("title:" * 60 + "a", 240, "at most 40 nested groups"),
    (" NEAR/1 ".join("abcdefghijklmnopqrstuvwxyz"), 137, "at most 16 terms in one NEAR"),
]


@pytest.mark.parametrize(("text", "position", "expected"), ERRORS)
def test_errors_say_where_and_what_was_expected(text: str, position: int, expected: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(text)
    error = caught.value
    assert error.position == position
    assert expected in error.expected
    assert str(error) == f"column {position + 1}: expected {error.expected}"
    assert "\n" not in str(error)
    assert isinstance(error, ValueError)


def test_very_long_flat_queries_parse() -> None:
    words = [f"w{i}" for i in range(5000)]
    assert parse_query(" ".join(words)) == And(tuple(W(w) for w in words))
    assert parse_query(" OR ".join(words)) == Or(tuple(W(w) for w in words))
    assert parse_query("x " + "-y " * 2000).operands[0] == W("x")  # type: ignore[union-attr]


def test_very_long_phrase_and_word() -> None:
    long_word = "a" * 100_000
    assert parse_query(long_word) == W(long_word)
    phrase = " ".join(["word"] * 10_000)
    assert parse_query(f'"{phrase}"') == Phrase(phrase)


@pytest.mark.parametrize(
    "text",
    ["\x00", "\ud800", "🙂", "🙂 Putin", "a\u200bb", "(((", ")))", '"""', "~~~", "NEAR/",
     "title:title:title:", "=" * 50, "-" * 50, ":::", "*" * 10, "a" + "\u0301" * 100],
)
def test_strange_input_raises_only_query_error(text: str) -> None:
    try:
        query = parse_query(text)
    except QueryError as error:
        assert 0 <= error.position <= len(text)
    else:
        assert parse_query(str(query)) == query
