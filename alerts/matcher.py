"""Matching rules against articles: a plain evaluator, and an indexed RuleSet.

`matches_reference` evaluates one query on one document. `RuleSet` gives exactly the
same answers for many rules, but only evaluates the *candidate* rules of a document:
each rule is reduced to clauses (sets of index keys, at least one of which any
matching document must contain: a stem in a field group, a word prefix, a language),
the clauses are kept in an inverted index, and a rule is a candidate when all of its
clauses are satisfied by the document's keys. The work per document therefore grows
with the postings of the words it contains, not with the number of rules.

Unscoped terms match in the title or the body. Author hit offsets index into
`AUTHOR_SEPARATOR.join(doc.authors)` (see `field_text`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache

from alerts.query import (
    TERMS,
    And,
    Lang,
    Near,
    Not,
    Or,
    Phrase,
    Prefix,
    Query,
    Scope,
    Word,
    format_query,
)
from alerts.text import Token, fold_words, get_stemmer, normalise_language, stemmer_name, tokenize

FIELD_ORDER = ("title", "body", "author", "source", "url")
TEXT_FIELDS = ("title", "body")
AUTHOR_SEPARATOR = "; "
_AUTHOR_GAP = 10_000  # position jump between two authors: no phrase or NEAR spans them


@dataclass(frozen=True)
class Document:
    title: str
    body: str
    authors: tuple[str, ...] = ()
    source: str = ""  # the source's configured name
    url: str = ""
    language: str | None = None  # ISO 639-1; picks the stemmer; None -> English


@dataclass(frozen=True)
class Hit:
    term: str  # the query term as written
    field: str  # "title" | "body" | "author" | "source" | "url"
    start: int  # character offsets into that field's original text
    end: int


@dataclass(frozen=True)
class Match:
    rule: str
    hits: tuple[Hit, ...]


def field_text(doc: Document, field: str) -> str:
    """The original text a Hit's offsets refer to."""
    if field == "author":
        return AUTHOR_SEPARATOR.join(doc.authors)
    return getattr(doc, field)


# ---------------------------------------------------------------- analysed document


class FieldIndex:
    """The tokens of one field, with word positions and lookups by stem and surface."""

    def __init__(self, name: str, tokens: list[Token], positions: list[int]) -> None:
        self.name = name
        self.tokens = tokens
        self.positions = positions
        self.by_stem: dict[str, list[int]] = {}
        self.by_surface: dict[str, list[int]] = {}
        for i, token in enumerate(tokens):
            self.by_stem.setdefault(token.stem, []).append(i)
            self.by_surface.setdefault(token.surface, []).append(i)


class AnalysedDocument:
    """A document tokenised once (lazily per field) for one language's stemmer."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.language = normalise_language(doc.language)
        self._fields: dict[str, FieldIndex] = {}
        self._term_spans: dict[tuple[Query, tuple[str, ...]], list[_Span]] = {}

    def field(self, name: str) -> FieldIndex:
        found = self._fields.get(name)
        if found is None:
            found = self._fields[name] = self._analyse(name)
        return found

    def _analyse(self, name: str) -> FieldIndex:
        if name != "author":
            tokens = tokenize(getattr(self.doc, name), self.language)
            return FieldIndex(name, tokens, list(range(len(tokens))))
        tokens, positions, offset, position = [], [], 0, 0
        for author in self.doc.authors:
            for token in tokenize(author, self.language):
                tokens.append(Token(token.surface, token.stem, token.start + offset,
                                    token.end + offset))
                positions.append(position)
                position += 1
            offset += len(author) + len(AUTHOR_SEPARATOR)
            position += _AUTHOR_GAP
        return FieldIndex(name, tokens, positions)

    @cached_property
    def stemmer(self) -> Callable[[str], str]:
        return get_stemmer(self.language)


# ---------------------------------------------------------------- evaluation


@dataclass(frozen=True, slots=True)
class _Span:
    field: str
    first: int  # word positions, inclusive
    last: int
    hits: tuple[Hit, ...]


def evaluate(node: Query, adoc: AnalysedDocument,
             fields: tuple[str, ...] = TEXT_FIELDS) -> tuple[Hit, ...] | None:
    """The hits if `node` matches the document, else None (a match may have no hits)."""
    if isinstance(node, TERMS):
        found_spans = spans(node, adoc, fields)
        return tuple(h for span in found_spans for h in span.hits) if found_spans else None
    if isinstance(node, And):
        hits: list[Hit] = []
        for operand in node.operands:
            found = evaluate(operand, adoc, fields)
            if found is None:
                return None
            hits.extend(found)
        return tuple(hits)
    if isinstance(node, Or):
        results = [evaluate(operand, adoc, fields) for operand in node.operands]
        matched = [r for r in results if r is not None]
        return tuple(h for r in matched for h in r) if matched else None
    if isinstance(node, Not):
        return () if evaluate(node.operand, adoc, fields) is None else None
    if isinstance(node, Scope):
        return evaluate(node.operand, adoc, (node.field,))
    if isinstance(node, Lang):
        return () if adoc.language == node.code else None
    found_spans = spans(node, adoc, fields)
    return tuple(h for span in found_spans for h in span.hits) if found_spans else None


def spans(node: Query, adoc: AnalysedDocument, fields: tuple[str, ...]) -> list[_Span]:
    """Where a positional node (term, phrase, prefix, NEAR, OR of those) occurs."""
    if isinstance(node, TERMS):
        key = (node, fields)
        found = adoc._term_spans.get(key)
        if found is None:
            found = adoc._term_spans[key] = _term_spans(node, adoc, fields)
        return found
    if isinstance(node, Near):
        left = spans(node.left, adoc, fields)
        right = spans(node.right, adoc, fields) if left else []
        return _near_spans(left, right, node.distance)
    if isinstance(node, Or):
        return [s for operand in node.operands for s in spans(operand, adoc, fields)]
    if isinstance(node, Scope):
        return spans(node.operand, adoc, (node.field,))
    return []  # NOT, AND and lang: have no position (the parser keeps them out of NEAR)


def _term_spans(node: Word | Phrase | Prefix, adoc: AnalysedDocument,
                fields: tuple[str, ...]) -> list[_Span]:
    term = _label(node)
    found: list[_Span] = []
    for name in fields:
        index = adoc.field(name)
        if isinstance(node, Prefix):
            found.extend(_prefix_spans(index, fold_words(node.text)[0], term))
        elif isinstance(node, Phrase) and node.slop is not None:
            found.extend(_sloppy_phrase_spans(index, node, term, adoc.stemmer))
        else:
            words = _term_keys(node.text, node.exact, adoc.stemmer)
            found.extend(_sequence_spans(index, words, node.exact, term))
    return found


@lru_cache(maxsize=100_000)
def _label(node: Word | Phrase | Prefix) -> str:
    return format_query(node)


def _term_keys(text: str, exact: bool, stem: Callable[[str], str]) -> tuple[str, ...]:
    surfaces = fold_words(text)
    return surfaces if exact else tuple(stem(s) for s in surfaces)


def _sequence_spans(index: FieldIndex, words: tuple[str, ...], exact: bool,
                    term: str) -> list[_Span]:
    """Spans where `words` occur as consecutive tokens."""
    lookup = index.by_surface if exact else index.by_stem
    starts = lookup.get(words[0], ())
    found = []
    for i in starts:
        end = i + len(words) - 1
        if end < len(index.tokens) and _continues(index, i, words, exact):
            first, last = index.tokens[i], index.tokens[end]
            hit = Hit(term, index.name, first.start, last.end)
            found.append(_Span(index.name, index.positions[i], index.positions[end], (hit,)))
    return found


def _continues(index: FieldIndex, i: int, words: tuple[str, ...], exact: bool) -> bool:
    for k in range(1, len(words)):
        token = index.tokens[i + k]
        if (token.surface if exact else token.stem) != words[k]:
            return False
        if index.positions[i + k] != index.positions[i] + k:
            return False
    return True


def _prefix_spans(index: FieldIndex, prefix: str, term: str) -> list[_Span]:
    found = []
    for surface, occurrences in index.by_surface.items():
        if surface.startswith(prefix):
            for i in occurrences:
                token = index.tokens[i]
                hit = Hit(term, index.name, token.start, token.end)
                found.append(_Span(index.name, index.positions[i], index.positions[i], (hit,)))
    found.sort(key=lambda s: s.first)
    return found


def _sloppy_phrase_spans(index: FieldIndex, node: Phrase, term: str,
                         stem: Callable[[str], str]) -> list[_Span]:
    """`"a b c"~n` is `a NEAR/n b NEAR/n c`: each word within n words of the others."""
    words = _term_keys(node.text, node.exact, stem)
    result: list[_Span] | None = None
    for word in words:
        word_spans = _sequence_spans(index, (word,), node.exact, term)
        result = word_spans if result is None else _near_spans(result, word_spans, node.slop or 0)
        if not result:
            return []
    return result or []


def _near_spans(left: list[_Span], right: list[_Span], distance: int) -> list[_Span]:
    """Pairs of non-overlapping spans in the same field with at most `distance` words
    between them, in either order; each pair becomes one span covering both."""
    found: dict[tuple[str, int, int], list[Hit]] = {}
    for a in left:
        for b in right:
            if a.field != b.field:
                continue
            if a.last < b.first:
                gap = b.first - a.last - 1
            elif b.last < a.first:
                gap = a.first - b.last - 1
            else:
                continue
            if gap <= distance:
                key = (a.field, min(a.first, b.first), max(a.last, b.last))
                found.setdefault(key, []).extend((*a.hits, *b.hits))
    return [_Span(f, first, last, tuple(dict.fromkeys(hits)))
            for (f, first, last), hits in found.items()]


def _ordered_hits(hits: Iterable[Hit]) -> tuple[Hit, ...]:
    unique = set(hits)
    return tuple(sorted(unique, key=lambda h: (FIELD_ORDER.index(h.field), h.start, h.end,
                                               h.term)))


def matches_reference(query: Query, doc: Document, name: str | None = None) -> Match | None:
    """Plain evaluation of one query on one document (for tests and backtests).

    The Match's rule is `name`, or the printed query when no name is given.
    """
    return _match(query, AnalysedDocument(doc), format_query(query) if name is None else name)


def match_every_rule(rules: Mapping[str, Query], doc: Document) -> list[Match]:
    """The brute-force answer RuleSet.match must give: every rule evaluated, no index."""
    adoc = AnalysedDocument(doc)
    return [m for name, query in rules.items() if (m := _match(query, adoc, name))]


def _match(query: Query, adoc: AnalysedDocument, name: str) -> Match | None:
    hits = evaluate(query, adoc)
    return None if hits is None else Match(name, _ordered_hits(hits))


# ---------------------------------------------------------------- the rule index

Key = tuple[str, str]  # (group, value): group "text"/"author"/"source"/"url" + kind
Clause = frozenset[Key]


def rule_clauses(node: Query, stem: Callable[[str], str], group: str = "text") -> list[Clause]:
    """Key sets, each of which a matching document must hit at least once.

    Weaker than the query (never rejects a match), so candidates are a superset of the
    matches. A NOT contributes nothing; an OR contributes one clause, the union of one
    clause of each alternative, and nothing if an alternative has no clause.
    """
    if isinstance(node, Word | Phrase):
        return [frozenset({(f"{group}:s", stem(w))}) for w in fold_words(node.text)]
    if isinstance(node, Prefix):
        return [frozenset({(f"{group}:p", fold_words(node.text)[0])})]
    if isinstance(node, Lang):
        return [frozenset({("lang", node.code)})]
    if isinstance(node, Near):
        return rule_clauses(node.left, stem, group) + rule_clauses(node.right, stem, group)
    if isinstance(node, And):
        return [c for operand in node.operands for c in rule_clauses(operand, stem, group)]
    if isinstance(node, Scope):
        inner = "text" if node.field in TEXT_FIELDS else node.field
        return rule_clauses(node.operand, stem, inner)
    if isinstance(node, Or):
        union: set[Key] = set()
        for operand in node.operands:
            alternatives = rule_clauses(operand, stem, group)
            if not alternatives:
                return []
            union |= min(alternatives, key=len)
        return [frozenset(union)]
    return []  # Not


class _Index:
    """The clauses of all rules for one stemmer, in an inverted index."""

    def __init__(self, queries: list[Query], stem: Callable[[str], str]) -> None:
        self.postings: dict[str, dict[str, list[int]]] = {}  # group:kind -> value -> clauses
        self.clause_rule: list[int] = []
        self.needed: list[int] = []  # clauses per rule
        self.always: list[int] = []  # rules without clauses: evaluated on every document
        for rule_id, query in enumerate(queries):
            clauses = list(dict.fromkeys(rule_clauses(query, stem)))
            self.needed.append(len(clauses))
            if not clauses:
                self.always.append(rule_id)
            for clause in clauses:
                clause_id = len(self.clause_rule)
                self.clause_rule.append(rule_id)
                for group, value in clause:
                    self.postings.setdefault(group, {}).setdefault(value, []).append(clause_id)
        self.prefix_lengths = {
            group: sorted({len(v) for v in table})
            for group, table in self.postings.items() if group.endswith(":p")
        }

    def candidates(self, adoc: AnalysedDocument) -> list[int]:
        satisfied: set[int] = set()
        counts: dict[int, int] = {}
        for group, table in self.postings.items():
            for value in self._present(group, table, adoc):
                for clause_id in table[value]:
                    if clause_id not in satisfied:
                        satisfied.add(clause_id)
                        rule_id = self.clause_rule[clause_id]
                        counts[rule_id] = counts.get(rule_id, 0) + 1
        found = [rule for rule, count in counts.items() if count == self.needed[rule]]
        return sorted(found + self.always)

    def _present(self, group: str, table: dict[str, list[int]],
                 adoc: AnalysedDocument) -> Iterable[str]:
        if group == "lang":
            return [adoc.language] if adoc.language in table else []
        field_group, kind = group.split(":")
        fields = TEXT_FIELDS if field_group == "text" else (field_group,)
        indexes = [adoc.field(name) for name in fields]
        if kind == "s":
            return {s for index in indexes for s in index.by_stem.keys() & table.keys()}
        lengths = self.prefix_lengths[group]
        return {
            surface[:n]
            for index in indexes for surface in index.by_surface
            for n in lengths if n <= len(surface) and surface[:n] in table
        }


class RuleSet:
    """Many named rules, matched against documents through an index of their terms."""

    def __init__(self, rules: Mapping[str, Query]) -> None:
        self._names = list(rules)
        self._queries = list(rules.values())
        self._indexes: dict[str | None, _Index] = {}

    def __len__(self) -> int:
        return len(self._names)

    def match(self, doc: Document) -> list[Match]:
        """Every rule that matches, in the rules' order, with its hits."""
        adoc = AnalysedDocument(doc)
        index = self._index_for(adoc.language)
        found = []
        for rule_id in index.candidates(adoc):
            match = _match(self._queries[rule_id], adoc, self._names[rule_id])
            if match is not None:
                found.append(match)
        return found

    def _index_for(self, language: str) -> _Index:
        key = stemmer_name(language)  # languages sharing a stemmer share an index
        index = self._indexes.get(key)
        if index is None:
            index = self._indexes[key] = _Index(self._queries, get_stemmer(language))
        return index
