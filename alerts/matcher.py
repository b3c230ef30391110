"""Matching rules against articles: a plain evaluator, and an indexed RuleSet.

`matches_reference` evaluates one query on one document and `match_every_rule`
evaluates every rule on one document: the brute-force answer, which tokenises word by
word (`tokenize`) and walks each query as a tree of closures (`compile_query`).

`RuleSet` gives exactly the same answers, faster, in three steps per document:

* the distinct words of each field, split in C without a regex (`WordSplit`), mapped to
  index keys (a stem or a word prefix some rule has) by `_WordKeys`, which works a
  word out once (fold, stem, one Aho-Corasick pass for prefixes) and afterwards finds
  a document's keyed words by one set intersection in C;
* a presearch in the manner of Lucene's Monitor (Luwak): each rule is reduced to
  clauses (sets of keys, one of which any matching document must contain: a stem in a
  field group, a word prefix, a language) and posted under its rarest clause only, its
  anchor (rarity estimated from wordfreq's lists: `alerts.rarity`; an OR's clause takes
  each alternative's rarest word). A document's candidates are the rules posted under
  its keys (set intersections in C); their other clauses are checked by set lookups
  before anything is evaluated. A rule without any clause is tried on every document;
* evaluation of the candidates as flat programs (required, one-of and excluded
  literals over a per-document table of literal results) for the common shapes, and
  through `compile_query` for the others (NEAR, nested OR), on fields analysed only as
  far as needed: a title or body becomes a `SparseFieldIndex` of the tokens some rule
  looks for (positions counted over all tokens, possessives and mark-only words
  dropped as `tokenize` does), with offsets computed only when a hit is reported.

The work per document is the split of its text, set operations over its distinct
words, and Python work for its new words, its candidate rules and their hits: it
grows with the rules that can really match, not with the number of rules.

`RuleSet.match_many` matches a batch (a match cycle's read, a page of `rules test`): it
learns the batch's new words first, so that each document then skips the checks for
words never seen, and pauses the cycle collector meanwhile; the answers are `match`'s.

Unscoped terms match in the title or the body. Author hit offsets index into
`AUTHOR_SEPARATOR.join(doc.authors)` (see `field_text`).
"""

from __future__ import annotations

import gc
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property, lru_cache, partial
from itertools import chain, compress
from operator import add, itemgetter
from typing import NamedTuple

import ahocorasick

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
from alerts.rarity import Rarity, rarity
from alerts.text import (
    Columns,
    WordSplit,
    analyse_columns,
    columns_of_parts,
    fold_words,
    get_stemmer,
    get_word_analyser,
    normalise_language,
    split_words,
    stemmer_name,
    tokenize,
)

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
    """The words of one field as columns, with word positions and lookups by stem and
    surface (built only when asked for: most documents need few of them)."""

    def __init__(self, name: str, columns: Columns, positions: Sequence[int],
                 relevant: set[str] | None = None) -> None:
        self.name = name
        self.rank = FIELD_ORDER.index(name)
        self.surfaces, self.stems, self.starts, self.ends = columns
        self.positions = positions
        self.stem_set = set(self.stems)
        self.relevant = relevant  # the stems some rule has (None: any)
        self._scans = self._surface_scans = 0

    @cached_property
    def by_stem(self) -> dict[str, list[int]]:
        """Token indexes by stem, of the relevant stems only: the tokens of the others
        are skipped in C (most words of an article concern no rule)."""
        if self.relevant is None:
            return _positions_by(self.stems)
        stems = self.stems
        table: dict[str, list[int]] = {}
        for i in compress(range(len(stems)), map(self.relevant.__contains__, stems)):
            found = table.get(stems[i])
            if found is None:
                table[stems[i]] = [i]
            else:
                found.append(i)
        return table

    @cached_property
    def by_surface(self) -> dict[str, list[int]]:
        return _positions_by(self.surfaces)

    @cached_property
    def surface_set(self) -> set[str]:
        return set(self.surfaces)

    @cached_property
    def sorted_surfaces(self) -> list[str]:
        return sorted(self.surface_set)

    def stem_indexes(self, stem: str) -> list[int]:
        """Token indexes of `stem`, ascending."""
        if stem not in self.stem_set:
            return []
        table = self.__dict__.get("by_stem")
        if table is None:
            # A few lookups scan the list in C; past that, one pass builds the table.
            self._scans += 1
            if self._scans <= _SCANS_BEFORE_TABLE:
                return _indexes_of(self.stems, stem)
            table = self.by_stem
        found = table.get(stem)
        return found if found is not None else _indexes_of(self.stems, stem)

    def surface_indexes(self, surface: str) -> list[int]:
        """Token indexes of `surface`, ascending (scans in C until a table pays)."""
        if surface not in self.surface_set:
            return []
        table = self.__dict__.get("by_surface")
        if table is None:
            self._surface_scans += 1
            if self._surface_scans <= _SCANS_BEFORE_TABLE:
                return _indexes_of(self.surfaces, surface)
            table = self.by_surface
        return table[surface]

    def surfaces_starting_with(self, prefix: str) -> Iterator[str]:
        surfaces = self.sorted_surfaces
        i = bisect_left(surfaces, prefix)
        while i < len(surfaces) and surfaces[i].startswith(prefix):
            yield surfaces[i]
            i += 1


_SCANS_BEFORE_TABLE = 6
_FEW_WORDS = 8  # a SparseFieldIndex finds up to this many words one by one


def _positions_by(values: list[str]) -> dict[str, list[int]]:
    table: dict[str, list[int]] = {}
    for i, value in enumerate(values):
        found = table.get(value)
        if found is None:
            table[value] = [i]
        else:
            found.append(i)
    return table


def _indexes_of(values: list[str], value: str) -> list[int]:
    found, i = [], 0
    index = values.index
    try:
        while True:
            i = index(value, i)
            found.append(i)
            i += 1
    except ValueError:
        return found


class _Sparse(dict):
    """Token index -> value for some tokens of a field (None for the others), with the
    field's length: what the evaluators read of a column."""

    def __init__(self, length: int) -> None:
        super().__init__()
        self.length = length

    def __missing__(self, key: int) -> None:
        return None

    def __len__(self) -> int:
        return self.length


class SparseFieldIndex(FieldIndex):
    """A title or body reduced to the tokens the candidate rules look for (by stem or
    prefix; `wanted`: the words giving them, all rules' if None):
    their positions, stems, surfaces and, when a hit needs them, offsets. The other
    tokens only count for positions, so that phrases and NEAR measure as in a full
    analysis. Built from the field's split with the per-word work done once per
    distinct word (`_WordKeys`) and the token walk in C."""

    def __init__(self, name: str, split: WordSplit, words: set[str],
                 keys: _WordKeys, wanted: set[str] | None = None) -> None:
        tokens = split.words  # possessives dropped already
        empty = words & keys.empty
        if empty:  # words of combining marks only are no tokens
            tokens = [word for word in tokens if word not in empty]
        length = len(tokens)
        if wanted is None:
            wanted = keys.key_words
        present = wanted & words
        if len(present) <= _FEW_WORDS:
            # A few words looked for (few rules): list.index finds each in C, faster
            # than a set lookup for every token.
            kept = sorted(chain.from_iterable(_indexes_of(tokens, word) for word in present))
        else:
            kept = list(compress(range(length), map(present.__contains__, tokens)))
        self._kept_words = list(map(tokens.__getitem__, kept))
        analysed = list(map(keys.analysis.__getitem__, self._kept_words))
        surfaces, stems = _Sparse(length), _Sparse(length)
        self._kept_surfaces = list(map(_INDEX, analysed))
        surfaces.update(zip(kept, self._kept_surfaces, strict=True))
        stems.update(zip(kept, map(itemgetter(1), analysed), strict=True))
        self._split, self._kept = split, kept
        super().__init__(name, Columns(surfaces, stems, [], []), range(length))  # type: ignore[arg-type]
        self.stem_set = set(stems.values())
        del self.starts, self.ends  # computed when a hit needs them

    @cached_property
    def _offsets(self) -> tuple[_Sparse, _Sparse]:
        """The start and end offsets of each kept token (none for the others): every
        token of a kept word is kept, as `WordSplit.starts_of_every` needs."""
        kept, surfaces = self._kept, self._kept_words
        begins = self._split.starts_of_every(surfaces)
        starts, ends = _Sparse(len(self.stems)), _Sparse(len(self.stems))
        starts.update(zip(kept, begins, strict=True))
        ends.update(zip(kept, map(add, begins, map(len, surfaces)), strict=True))
        return starts, ends

    @cached_property
    def starts(self) -> _Sparse:  # type: ignore[override]
        return self._offsets[0]

    @cached_property
    def ends(self) -> _Sparse:  # type: ignore[override]
        return self._offsets[1]

    @cached_property
    def by_stem(self) -> dict[str, list[int]]:
        return _positions_by_sparse(self.stems)

    @cached_property
    def by_surface(self) -> dict[str, list[int]]:
        return _positions_by_sparse(self.surfaces)

    @cached_property
    def surface_set(self) -> set[str]:
        return set(self.surfaces.values())

    def stem_indexes(self, stem: str) -> list[int]:
        return self.by_stem.get(stem, []) if stem in self.stem_set else []

    def surface_indexes(self, surface: str) -> list[int]:
        if surface not in self.surface_set:
            return []
        table = self.__dict__.get("by_surface")
        if table is None:
            # Exact words and prefixes are few: scan the kept surfaces in C at first.
            self._surface_scans += 1
            if self._surface_scans <= _SCANS_BEFORE_TABLE:
                kept = self._kept
                return [kept[j] for j in _indexes_of(self._kept_surfaces, surface)]
            table = self.by_surface
        return table.get(surface, [])


def _positions_by_sparse(values: _Sparse) -> dict[str, list[int]]:
    table: dict[str, list[int]] = {}
    for i, value in values.items():  # ascending: tokens were added in order
        found = table.get(value)
        if found is None:
            table[value] = [i]
        else:
            found.append(i)
    return table  # (a C sort and groupby measured 4x slower)


_INDEX = itemgetter(0)
_FIRST, _SECOND = itemgetter(0), itemgetter(1)


class AnalysedDocument:
    """A document analysed once (lazily per field) for its language's stemmer.

    `reference=True` tokenises with the plain per-word `tokenize` instead of the columnar
    `analyse_columns`: the brute-force answer shares no analysis code with the fast one.
    """

    def __init__(self, doc: Document, reference: bool = False) -> None:
        self.doc = doc
        self.language = normalise_language(doc.language)
        self.stemmer = get_stemmer(self.language)
        self.reference = reference
        self._fields: dict[str, FieldIndex] = {}
        self._words: dict[str, set[str]] = {}
        self._key_values: dict[str, tuple[set[str], set[str]]] = {}
        self.known = False  # every word of the title and body learnt by `word_keys`
        self.relevant: set[str] | None = None  # stems the rules have; set by the RuleSet
        self.word_keys: _WordKeys | None = None  # ... and the words giving them
        # The words the rules to evaluate look for, from what `word_keys` has learnt
        # (None: those of every rule).
        self.looked_for: Callable[[], set[str]] | None = None
        self._wanted: set[str] | None = None
        self._splits: dict[str, WordSplit] = {}  # the words of a field, shared
        self._field_lists: dict[tuple[str, ...], list[FieldIndex]] = {}
        self.term_spans: dict[tuple[str, tuple[str, ...]], list[_Span]] = {}
        self.term_hits: dict[tuple[str, tuple[str, ...]], tuple[_RawHit, ...] | None] = {}
        self.hit_objects: dict[_RawHit, Hit] = {}  # rules sharing a term share its Hits

    def fields(self, names: tuple[str, ...]) -> list[FieldIndex]:
        found = self._field_lists.get(names)
        if found is None:
            found = self._field_lists[names] = [self.field(name) for name in names]
        return found

    def words(self, name: str) -> set[str]:
        """A field's distinct words as written (unfolded): what picking the rules to try
        starts from, with no per-word work (`_WordKeys` maps them)."""
        found = self._words.get(name)
        if found is None:
            if name == "author":
                found = set()
                for author in self.doc.authors:
                    found.update(split_words(author)[1::2])
            else:
                found = set(self._word_split(name).words)
            self._words[name] = found
        return found

    def key_values(self, name: str) -> tuple[set[str], set[str]]:
        """The stems and prefixes some rule has that a field's words give."""
        found = self._key_values.get(name)
        if found is None:
            assert self.word_keys is not None
            found = self._key_values[name] = self.word_keys.values_of(
                self.words(name), known=self.known and name in TEXT_FIELDS)
        return found

    def field(self, name: str) -> FieldIndex:
        found = self._fields.get(name)
        if found is None:
            found = self._fields[name] = self._analyse(name)
        return found

    def _wanted_words(self) -> set[str] | None:
        if self._wanted is None and self.looked_for is not None and self.word_keys:
            # What is looked for is read from the words learnt: learn the text's first
            # (a rule picked by its language alone has not made them learnt).
            if not self.known:
                for name in TEXT_FIELDS:
                    self.word_keys.learn(self.words(name))
            self._wanted = self.looked_for()
        return self._wanted

    def _word_split(self, name: str) -> WordSplit:
        found = self._splits.get(name)
        if found is None:
            found = self._splits[name] = WordSplit(getattr(self.doc, name))
        return found

    def _columns(self, text: str) -> Columns:
        if self.reference:
            tokens = tokenize(text, self.language)
            return Columns([t.surface for t in tokens], [t.stem for t in tokens],
                           [t.start for t in tokens], [t.end for t in tokens])
        return analyse_columns(text, self.language)

    def _analyse(self, name: str) -> FieldIndex:
        if name != "author":
            if self.reference:
                columns = self._columns(getattr(self.doc, name))
            elif (self.word_keys is not None and name in TEXT_FIELDS
                  and (self.known or self.word_keys.knows(self.words(name)))):
                return SparseFieldIndex(name, self._word_split(name), self.words(name),
                                        self.word_keys, self._wanted_words())
            else:
                columns = columns_of_parts(split_words(getattr(self.doc, name)),
                                           self.language, self._words.get(name))
            return FieldIndex(name, columns, range(len(columns.stems)), self.relevant)
        joined = Columns([], [], [], [])
        positions: list[int] = []
        offset, position = 0, 0
        for author in self.doc.authors:
            columns = self._columns(author)
            for column, values in zip(joined[:2], columns[:2], strict=True):
                column.extend(values)
            joined.starts.extend(start + offset for start in columns.starts)
            joined.ends.extend(end + offset for end in columns.ends)
            positions.extend(range(position, position + len(columns.stems)))
            position += len(columns.stems) + _AUTHOR_GAP
            offset += len(author) + len(AUTHOR_SEPARATOR)
        return FieldIndex(name, joined, positions, self.relevant)


# ---------------------------------------------------------------- evaluation

# Hits are built as plain tuples while evaluating (many are dropped again) and become
# Hit objects only in a final Match: (field rank, start, end, term), which sorts well.
_RawHit = tuple[int, int, int, str]


class _Span(NamedTuple):
    field: str
    first: int  # word positions, inclusive
    last: int
    hits: tuple[_RawHit, ...]


Evaluator = Callable[[AnalysedDocument], tuple[_RawHit, ...] | None]
Locator = Callable[[AnalysedDocument], list[_Span]]


def compile_query(node: Query, stem: Callable[[str], str],
                  fields: tuple[str, ...] = TEXT_FIELDS) -> Evaluator:
    """Turn a query into a function of an analysed document (analysed with the same
    stemmer) that returns the hits if it matches, else None (a match may have no hits).

    Compiling once per rule and language moves the tree walking, folding and stemming
    of query words out of the per-article loop.
    """
    if isinstance(node, TERMS):
        return _compile_term_hits(node, stem, fields)
    if isinstance(node, Near):
        return _hits_of(_compile_locator(node, stem, fields))
    if isinstance(node, And):
        return _all_of([compile_query(op, stem, fields) for op in node.operands])
    if isinstance(node, Or):
        return _any_of([compile_query(op, stem, fields) for op in node.operands])
    if isinstance(node, Not):
        return _none_of(compile_query(node.operand, stem, fields))
    if isinstance(node, Scope):
        return compile_query(node.operand, stem, (node.field,))
    if isinstance(node, Lang):
        code = node.code
        return lambda adoc: () if adoc.language == code else None
    raise TypeError(f"not a query node: {node!r}")


def _hits_of(locate: Locator) -> Evaluator:
    def evaluate(adoc: AnalysedDocument) -> tuple[_RawHit, ...] | None:
        found = locate(adoc)
        return tuple(h for span in found for h in span.hits) if found else None

    return evaluate


def _compile_term_hits(node: Word | Phrase | Prefix, stem: Callable[[str], str],
                       fields: tuple[str, ...]) -> Evaluator:
    locate = _compile_term(node, stem, fields)
    cache_key = (format_query(node), fields)

    def evaluate(adoc: AnalysedDocument) -> tuple[_RawHit, ...] | None:
        try:
            return adoc.term_hits[cache_key]
        except KeyError:
            found = locate(adoc)
            hits = tuple(h for span in found for h in span.hits) if found else None
            adoc.term_hits[cache_key] = hits
            return hits

    return evaluate


def _all_of(operands: list[Evaluator]) -> Evaluator:
    def evaluate(adoc: AnalysedDocument) -> tuple[_RawHit, ...] | None:
        hits: list[_RawHit] = []
        for operand in operands:
            found = operand(adoc)
            if found is None:
                return None
            hits.extend(found)
        return tuple(hits)

    return evaluate


def _any_of(operands: list[Evaluator]) -> Evaluator:
    def evaluate(adoc: AnalysedDocument) -> tuple[_RawHit, ...] | None:
        # Every alternative is evaluated, not just the first that matches: the
        # explanation lists all the terms that matched.
        matched = [found for operand in operands if (found := operand(adoc)) is not None]
        return tuple(h for found in matched for h in found) if matched else None

    return evaluate


def _none_of(operand: Evaluator) -> Evaluator:
    return lambda adoc: () if operand(adoc) is None else None


def _compile_locator(node: Query, stem: Callable[[str], str],
                     fields: tuple[str, ...]) -> Locator:
    """A function giving where a positional node (term, phrase, prefix, NEAR, OR of
    those) occurs; the parser keeps NOT, AND and lang: out of NEAR."""
    if isinstance(node, TERMS):
        return _compile_term(node, stem, fields)
    if isinstance(node, Near):
        left = _compile_locator(node.left, stem, fields)
        right = _compile_locator(node.right, stem, fields)
        distance = node.distance

        def locate_near(adoc: AnalysedDocument) -> list[_Span]:
            found = left(adoc)
            return _near_spans(found, right(adoc), distance) if found else []

        return locate_near
    if isinstance(node, Or):
        alternatives = [_compile_locator(op, stem, fields) for op in node.operands]
        return lambda adoc: [span for locate in alternatives for span in locate(adoc)]
    if isinstance(node, Scope):
        return _compile_locator(node.operand, stem, (node.field,))
    return lambda adoc: []


def _compile_term(node: Word | Phrase | Prefix, stem: Callable[[str], str],
                  fields: tuple[str, ...]) -> Locator:
    term = format_query(node)
    if isinstance(node, Prefix):
        prefix = fold_words(node.text)[0]

        def find(index: FieldIndex) -> list[_Span]:
            return _prefix_spans(index, prefix, term)
    else:
        surfaces = fold_words(node.text)
        words = surfaces if node.exact else tuple(stem(w) for w in surfaces)
        exact, slop = node.exact, node.slop if isinstance(node, Phrase) else None

        def find(index: FieldIndex) -> list[_Span]:
            if slop is not None:
                return _sloppy_phrase_spans(index, words, exact, slop, term)
            return _sequence_spans(index, words, exact, term)

    # The printed term and the fields identify what is looked for (the stemmer is the
    # document's), so rules sharing a term share its lookup within one document.
    cache_key = (term, fields)

    def locate(adoc: AnalysedDocument) -> list[_Span]:
        found = adoc.term_spans.get(cache_key)
        if found is None:
            found = adoc.term_spans[cache_key] = [
                span for name in fields for span in find(adoc.field(name))
            ]
        return found

    return locate


def _sequence_spans(index: FieldIndex, words: tuple[str, ...], exact: bool,
                    term: str) -> list[_Span]:
    """Spans where `words` occur as consecutive tokens."""
    starts = index.surface_indexes(words[0]) if exact else index.stem_indexes(words[0])
    if not starts:
        return []
    positions, name, rank = index.positions, index.name, index.rank
    begins, ends = index.starts, index.ends
    if len(words) == 1:
        return [_Span(name, positions[i], positions[i], ((rank, begins[i], ends[i], term),))
                for i in starts]
    found = []
    values = index.surfaces if exact else index.stems
    for i in starts:
        end = i + len(words) - 1
        if end < len(values) and _continues(values, positions, i, words):
            hit = (rank, begins[i], ends[end], term)
            found.append(_Span(name, positions[i], positions[end], (hit,)))
    return found


def _continues(values: list[str], positions: Sequence[int], i: int, words: tuple[str, ...]) -> bool:
    for k in range(1, len(words)):
        if values[i + k] != words[k] or positions[i + k] != positions[i] + k:
            return False
    return True


def _prefix_spans(index: FieldIndex, prefix: str, term: str) -> list[_Span]:
    found = []
    for surface in index.surfaces_starting_with(prefix):
        for i in index.surface_indexes(surface):
            hit = (index.rank, index.starts[i], index.ends[i], term)
            found.append(_Span(index.name, index.positions[i], index.positions[i], (hit,)))
    found.sort(key=lambda s: s.first)
    return found


def _sloppy_phrase_spans(index: FieldIndex, words: tuple[str, ...], exact: bool, slop: int,
                         term: str) -> list[_Span]:
    """`"a b c"~n` is `a NEAR/n b NEAR/n c`: each word within n words of the others."""
    result: list[_Span] | None = None
    for word in words:
        word_spans = _sequence_spans(index, (word,), exact, term)
        result = word_spans if result is None else _near_spans(result, word_spans, slop)
        if not result:
            return []
    return result or []


def _near_spans(left: list[_Span], right: list[_Span], distance: int) -> list[_Span]:
    """Pairs of non-overlapping spans in the same field with at most `distance` words
    between them, in either order; each pair becomes one span covering both."""
    found: dict[tuple[str, int, int], list[_RawHit]] = {}
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


def _to_hits(raw: Iterable[_RawHit], known: dict[_RawHit, Hit],
             unique: bool = False) -> tuple[Hit, ...]:
    """Unique hits in field order, then by position (`unique`: no hit is repeated)."""
    keys = sorted(raw if unique else set(raw))
    try:
        return tuple(map(known.__getitem__, keys))
    except KeyError:
        for key in keys:
            if key not in known:
                rank, start, end, term = key
                known[key] = Hit(term, FIELD_ORDER[rank], start, end)
        return tuple(map(known.__getitem__, keys))


def matches_reference(query: Query, doc: Document, name: str | None = None) -> Match | None:
    """Plain evaluation of one query on one document (for tests and backtests).

    The Match's rule is `name`, or the printed query when no name is given.
    """
    adoc = AnalysedDocument(doc, reference=True)
    evaluate = compile_query(query, adoc.stemmer)
    return _match(evaluate, adoc, format_query(query) if name is None else name)


def match_every_rule(rules: Mapping[str, Query], doc: Document) -> list[Match]:
    """The brute-force answer RuleSet.match must give: every rule evaluated, no index."""
    adoc = AnalysedDocument(doc, reference=True)
    return [
        match for name, query in rules.items()
        if (match := _match(_compiled(query, adoc.stemmer), adoc, name))
    ]


@lru_cache(maxsize=20_000)
def _compiled(query: Query, stem: Callable[[str], str]) -> Evaluator:
    return compile_query(query, stem)


def _match(evaluate: Evaluator, adoc: AnalysedDocument, name: str) -> Match | None:
    hits = evaluate(adoc)
    return None if hits is None else Match(name, _to_hits(hits, adoc.hit_objects))


# ---------------------------------------------------------------- the rule index

Key = tuple[str, str]  # (group, value): group "text"/"author"/"source"/"url" + kind
Clause = frozenset[Key]


def rule_clauses(node: Query, stem: Callable[[str], str], group: str = "text",
                 cost: Callable[[Clause], float] = len) -> list[Clause]:
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
        return [*rule_clauses(node.left, stem, group, cost),
                *rule_clauses(node.right, stem, group, cost)]
    if isinstance(node, And):
        return [c for operand in node.operands for c in rule_clauses(operand, stem, group, cost)]
    if isinstance(node, Scope):
        inner = "text" if node.field in TEXT_FIELDS else node.field
        return rule_clauses(node.operand, stem, inner, cost)
    if isinstance(node, Or):
        union: set[Key] = set()
        for operand in node.operands:
            alternatives = rule_clauses(operand, stem, group, cost)
            if not alternatives:
                return []
            union |= min(alternatives, key=cost)  # the rarest (by default the smallest)
        return [frozenset(union)]
    return []  # Not


# A flat program: (required, groups, excluded) literal ids. A document matches when every
# required literal, at least one literal of each group and no excluded literal matches;
# the hits are those of the matching required and group literals. Most rules have this
# shape (words, phrases, prefixes, OR of them, exclusions, lang:, field scopes), and it
# runs as three loops over a per-document table instead of a tree of nested calls.
Program = tuple[tuple[int, ...], tuple[tuple[int, ...], ...], tuple[int, ...]]
Literal = tuple[Query, tuple[str, ...]]  # a term or lang: node, and the fields it looks in


def flat_program(node: Query, literal_id: Callable[[Literal], int]) -> Program | None:
    """The query as a flat program, or None if it has another shape (NEAR, nested OR)."""
    required: list[int] = []
    groups: list[tuple[int, ...]] = []
    excluded: list[int] = []
    items = node.operands if isinstance(node, And) else (node,)
    for item in items:
        fields = TEXT_FIELDS
        while isinstance(item, Scope):
            fields, item = (item.field,), item.operand
        if isinstance(item, Not):
            inner, inner_fields = item.operand, fields
            while isinstance(inner, Scope):
                inner_fields, inner = (inner.field,), inner.operand
            alternatives = inner.operands if isinstance(inner, Or) else (inner,)
            literals = _literals(alternatives, inner_fields, literal_id)
            if literals is None:
                return None
            excluded.extend(literals)  # NOT (a OR b) is NOT a AND NOT b
        elif isinstance(item, Or):
            literals = _literals(item.operands, fields, literal_id)
            if literals is None:
                return None
            groups.append(tuple(literals))
        else:
            literals = _literals((item,), fields, literal_id)
            if literals is None:
                return None
            required.extend(literals)
    return tuple(required), tuple(groups), tuple(excluded)


def _literals(nodes: Iterable[Query], fields: tuple[str, ...],
              literal_id: Callable[[Literal], int]) -> list[int] | None:
    found = []
    for node in nodes:
        scope = fields
        while isinstance(node, Scope):
            scope, node = (node.field,), node.operand
        if not isinstance(node, (*TERMS, Lang)):
            return None
        found.append(literal_id((node, () if isinstance(node, Lang) else scope)))
    return found


_UNSEEN: object = object()


def _distinct(values: list[str]) -> bool:
    return len(set(values)) == len(values)


def _literal_evaluator(node: Query, stem: Callable[[str], str],
                       fields: tuple[str, ...]) -> Evaluator:
    """A word or an unsloppy phrase straight to its hits (no spans, no shared cache: the
    caller keeps a table per document); other literals as compile_query has them."""
    if not isinstance(node, Word | Phrase) or getattr(node, "slop", None) is not None:
        return compile_query(node, stem, fields)
    term = format_query(node)
    surfaces = fold_words(node.text)
    exact = node.exact
    words = surfaces if exact else tuple(stem(w) for w in surfaces)
    first, rest = words[0], words[1:]

    def evaluate(adoc: AnalysedDocument) -> tuple[_RawHit, ...] | None:
        hits: list[_RawHit] = []
        for index in adoc.fields(fields):
            found = index.surface_indexes(first) if exact else index.stem_indexes(first)
            if not found:
                continue
            rank, starts, ends = index.rank, index.starts, index.ends
            if not rest:
                hits += [(rank, starts[i], ends[i], term) for i in found]
                continue
            values = index.surfaces if exact else index.stems
            last = len(rest)
            for i in found:
                if i + last < len(values) and _continues(values, index.positions, i, words):
                    hits.append((rank, starts[i], ends[i + last], term))
        return tuple(hits) if hits else None

    return evaluate


class _Index:
    """The clauses of all rules for one stemmer, in an inverted index."""

    def __init__(self, queries: list[Query], stem: Callable[[str], str],
                 language: str | None = None, estimates: Rarity | None = None) -> None:
        self.queries = queries
        self.stem = stem
        self.literal_ids: dict[Literal, int] = {}
        self.literals: list[Evaluator] = []
        self.programs = [flat_program(query, self._literal_id) for query in queries]
        # Rules whose every literal gives its hits sorted and unique (no sloppy phrase).
        sorted_literals = [not isinstance(node, Phrase) or node.slop is None
                           for node, _ in self.literal_ids]
        self.sorted_parts = [
            program is not None
            and all(sorted_literals[i] for i in (*program[0], *chain(*program[1])))
            for program in self.programs
        ]
        # ... and whose literals print differently, so no two parts share a hit.
        terms = [format_query(node) for node, _ in self.literal_ids]
        self.disjoint_parts = [
            is_sorted and _distinct([terms[i] for i in (*program[0], *chain(*program[1]))])
            for is_sorted, program in zip(self.sorted_parts, self.programs, strict=True)
        ]
        # Each rule's literal if it is one literal whose hits come sorted, else -1.
        self.lone_literals = [
            program[0][0] if is_sorted and len(program[0]) == 1 and not program[1]
            and not program[2] else -1
            for is_sorted, program in zip(self.sorted_parts, self.programs, strict=True)
        ]
        self._evaluators: dict[int, Evaluator] = {}  # rules of other shapes, compiled once
        # Rule -> the keys of every term it looks at (worked out when first a candidate).
        self._looked_for: dict[int, tuple[Key, ...]] = {}
        self._anchor_clauses(queries, stem, language,
                             estimates if estimates is not None else rarity(language))

    def _anchor_clauses(self, queries: list[Query], stem: Callable[[str], str],
                        language: str | None, estimates: Rarity) -> None:
        """Post each rule under the keys of its rarest clause (its anchor), and keep its
        other clauses to check, by set lookups, before evaluating it."""
        weight: dict[str, float] = {}  # stem -> estimated frequency of the words giving it

        def weighed_stem(word: str) -> str:
            found = stem(word)
            frequency = estimates.word(word)
            if frequency > weight.get(found, 0.0):
                weight[found] = frequency
            return found

        keys: dict[Key, Key] = {}  # one tuple per key, shared by every rule using it
        clause_keys: dict[Clause, tuple[Key, ...]] = {}
        cost_of: dict[Key, float] = {}

        def cost(key: Key) -> float:
            found = cost_of.get(key)
            if found is None:
                group, value = key
                if group == "lang":
                    found = 0.5
                elif group.endswith(":p"):
                    found = estimates.prefix(value)
                else:
                    found = weight.get(value, 0.0)
                if not group.startswith(("text:", "lang")):
                    found *= 0.05  # a title, author, source or URL holds few words
                cost_of[key] = found
            return found

        def clause_cost(clause: Iterable[Key]) -> float:
            return sum(map(cost, clause))

        self.anchors: dict[str, dict[str, list[int]]] = {}  # group -> value -> rules
        self.checks: list[tuple[tuple[Key, ...], ...]] = []  # each rule's other clauses
        self.always: list[int] = []  # rules without clauses: evaluated on every document
        stems: set[str] = set()
        prefixes: set[str] = set()
        no_checks: tuple[tuple[Key, ...], ...] = ()
        for rule_id, query in enumerate(queries):
            clauses = list(dict.fromkeys(rule_clauses(query, weighed_stem, cost=clause_cost)))
            if not clauses:
                self.always.append(rule_id)
                self.checks.append(no_checks)
                continue
            shared = []
            for clause in clauses:
                found = clause_keys.get(clause)
                if found is None:
                    found = clause_keys[clause] = tuple(
                        keys.setdefault(key, key) for key in sorted(clause))
                shared.append(found)
            anchor = min(shared, key=clause_cost)
            for group, value in anchor:
                self.anchors.setdefault(group, {}).setdefault(value, []).append(rule_id)
            others = tuple(clause for clause in shared if clause is not anchor)
            self.checks.append(others or no_checks)
            _literal_terms(query, stem, stems, prefixes)
        self.word_keys = _WordKeys(stems, prefixes, language)
        self.anchor_tables = [(group, table, set(table)) for group, table in self.anchors.items()]

    def _literal_id(self, literal: Literal) -> int:
        found = self.literal_ids.get(literal)
        if found is None:
            found = self.literal_ids[literal] = len(self.literals)
            node, fields = literal
            self.literals.append(_literal_evaluator(node, self.stem, fields or TEXT_FIELDS))
        return found

    def evaluate(self, rule_id: int, adoc: AnalysedDocument,
                 results: dict[int, tuple[_RawHit, ...] | None],
                 ) -> list[tuple[_RawHit, ...]] | None:
        """The rule's hits as the hit tuples of its parts, or None if it does not match."""
        program = self.programs[rule_id]
        if program is None:
            evaluate = self._evaluators.get(rule_id)
            if evaluate is None:
                evaluate = self._evaluators[rule_id] = compile_query(
                    self.queries[rule_id], self.stem)
            found = evaluate(adoc)
            return None if found is None else [found]
        required, groups, excluded = program
        literals = self.literals
        parts: list[tuple[_RawHit, ...]] = []
        for literal in required:
            found = results.get(literal, _UNSEEN)
            if found is _UNSEEN:
                found = results[literal] = literals[literal](adoc)
            if found is None:
                return None
            parts.append(found)  # type: ignore[arg-type]
        for group in groups:
            matched = False
            for literal in group:
                found = results.get(literal, _UNSEEN)
                if found is _UNSEEN:
                    found = results[literal] = literals[literal](adoc)
                if found is not None:
                    matched = True
                    parts.append(found)  # type: ignore[arg-type]
            if not matched:
                return None
        for literal in excluded:
            found = results.get(literal, _UNSEEN)
            if found is _UNSEEN:
                found = results[literal] = literals[literal](adoc)
            if found is not None:
                return None
        return parts

    def words_looked_for(self, rules: list[int]) -> set[str]:
        """The words (as written, among those seen) that evaluating these rules may look
        at: those giving a stem or prefix of any of their terms, excluded ones included."""
        looked_for = self._looked_for
        for rule in rules:
            if rule not in looked_for:
                stems: set[str] = set()
                prefixes: set[str] = set()
                _literal_terms(self.queries[rule], self.stem, stems, prefixes)
                looked_for[rule] = (*(("s", stem) for stem in stems),
                                    *(("p", prefix) for prefix in prefixes))
        keys = set().union(*map(looked_for.__getitem__, rules))
        return set().union(*filter(None, map(self.word_keys.words_of.get, keys)))

    def candidates(self, adoc: AnalysedDocument) -> list[int]:
        """The rules whose every clause has a key in the document, in rule order: those
        posted under a key the document has (set intersections in C), then checked."""
        present = _Presence(self, adoc)
        found: list[int] = list(self.always)
        for group, table, values in self.anchor_tables:
            hit = present[group] & values  # set & set: C walks the smaller
            if hit:
                found.extend(chain.from_iterable(map(table.__getitem__, hit)))
        if not found:
            return found
        checks = self.checks
        passed = []
        for rule in sorted(set(found)):
            clauses = checks[rule]
            if clauses and not _has_a_key_of_each(clauses, present):
                continue
            passed.append(rule)
        return passed


def _has_a_key_of_each(clauses: tuple[tuple[Key, ...], ...], present: _Presence) -> bool:
    """Whether the document has a key of every clause (plain loops: most clauses hold
    one key, and a generator per clause cost more than the lookups)."""
    for clause in clauses:
        for group, value in clause:
            if value in present[group]:
                break
        else:
            return False
    return True


class _Presence(dict):
    """The values of each key group a document has, computed when first asked for:
    stems and prefixes from the distinct words of its fields (no offsets), its language."""

    def __init__(self, index: _Index, adoc: AnalysedDocument) -> None:
        super().__init__()
        self.index = index
        self.adoc = adoc

    def __missing__(self, group: str) -> set[str]:
        if group == "lang":
            found = {self.adoc.language}
        else:
            field_group, kind = group.split(":")
            fields = TEXT_FIELDS if field_group == "text" else (field_group,)
            which = 0 if kind == "s" else 1
            found = set().union(*(self.adoc.key_values(name)[which] for name in fields))
        self[group] = found
        return found


class _WordKeys:
    """The index keys a word as written gives ("s", stem) and ("p", prefix), for the
    stems and prefixes some rule has: worked out once per distinct word, so a document
    costs set operations in C over its distinct words, plus Python work for its words
    never seen before and for those that concern a rule."""

    _LIMIT = 500_000  # words remembered; past it, new words are worked out every time

    def __init__(self, stems: set[str], prefixes: set[str], language: str | None) -> None:
        self.stems = stems
        self.analyse = get_word_analyser(language)
        self.automaton: ahocorasick.Automaton | None = None
        if prefixes:
            self.automaton = ahocorasick.Automaton()
            for prefix in prefixes:
                self.automaton.add_word(" " + prefix, prefix)
            self.automaton.make_automaton()
        self.keys: dict[str, tuple[tuple[str, str], ...]] = {}  # words giving some key
        self.words_of: dict[tuple[str, str], set[str]] = {}  # ... by key
        self.key_words: set[str] = set()  # the same words: set & set walks the smaller
        self.analysis: dict[str, tuple[str, str]] = {}  # ... their surfaces and stems
        self.empty: set[str] = set()  # words without a surface (combining marks only)
        self.seen: set[str] = set()
        # The same by kind, as plain strings (their hashes are kept, a tuple's are not):
        # word -> its stem, for the words whose stem some rule has; word -> its prefixes.
        self.stem_of: dict[str, str] = {}
        self.prefixes_of: dict[str, tuple[str, ...]] = {}
        self.stem_words: set[str] = set()  # their keys, as sets: set & set walks the smaller
        self.prefix_words: set[str] = set()

    def values_of(self, words: set[str], known: bool = False) -> tuple[set[str], set[str]]:
        """The stems and the prefixes some rule has that these words give: one pass over
        the words when all are known (set & set walks the smaller), then work on the
        few that give a key. `known`: the caller knows every word is learnt."""
        if not known and not words.issubset(self.seen):
            keys = self.keys_of(words)
            return ({value for kind, value in keys if kind == "s"},
                    {value for kind, value in keys if kind == "p"})
        keyed = words & self.key_words
        stems = set(map(self.stem_of.get, keyed))
        stems.discard(None)
        prefixes = set(chain.from_iterable(map(self.prefixes_of.__getitem__,
                                               keyed & self.prefix_words)))
        return stems, prefixes  # type: ignore[return-value]

    def keys_of(self, words: set[str]) -> set[tuple[str, str]]:
        """The keys these words give (working out the words never seen)."""
        new = self.learn(words)
        found: set[tuple[str, str]] = set()
        for keys in new.values():
            found.update(keys)
        known = words & self.key_words
        known.difference_update(new)
        found.update(chain.from_iterable(map(self.keys.__getitem__, known)))
        return found

    def learn(self, words: set[str]) -> dict[str, tuple[tuple[str, str], ...]]:
        """Work out the words never seen, remembering them while there is room; their
        keys, for those giving some (no work at all when every word is known)."""
        if words.issubset(self.seen):
            return {}
        missing = words.difference(self.seen)
        remember = len(self.seen) < self._LIMIT
        new: dict[str, tuple[tuple[str, str], ...]] = {}
        for word in missing:  # in an order that keeps a concurrent reader right
            keys, analysis = self._work_out(word)
            if keys:
                new[word] = keys
                if remember:
                    self.analysis[word] = analysis
                    self.keys[word] = keys
                    for key in keys:
                        self.words_of.setdefault(key, set()).add(word)
                        if key[0] == "s":
                            self.stem_of[word] = key[1]
                            self.stem_words.add(word)
                    prefixes = tuple(value for kind, value in keys if kind == "p")
                    if prefixes:
                        self.prefixes_of[word] = prefixes
                        self.prefix_words.add(word)
                    self.key_words.add(word)
            elif remember and not analysis[0]:
                self.empty.add(word)
        if remember:
            self.seen |= missing
        return new

    def _work_out(self, word: str) -> tuple[tuple[tuple[str, str], ...], tuple[str, str]]:
        surface, stem = analysis = self.analyse(word)
        if not surface:
            return (), analysis
        keys = [("s", stem)] if stem in self.stems else []
        if self.automaton is not None:
            keys += [("p", prefix) for _, prefix in self.automaton.iter(" " + surface)]
        return tuple(keys), analysis

    def knows(self, words: set[str]) -> bool:
        """Whether every word is worked out and remembered (what SparseFieldIndex needs)."""
        if words.issubset(self.seen):
            return True
        self.learn(words)
        return words.issubset(self.seen)


def _literal_terms(node: Query, stem: Callable[[str], str], stems: set[str],
                   prefixes: set[str]) -> None:
    """Add the stems and prefixes of every term of the query, excluded ones included:
    the tokens evaluation may look at."""
    if isinstance(node, Prefix):
        prefixes.update(fold_words(node.text)[:1])
    elif isinstance(node, Word | Phrase):
        stems.update(map(stem, fold_words(node.text)))
    elif isinstance(node, And | Or):
        for operand in node.operands:
            _literal_terms(operand, stem, stems, prefixes)
    elif isinstance(node, Near):
        _literal_terms(node.left, stem, stems, prefixes)
        _literal_terms(node.right, stem, stems, prefixes)
    elif isinstance(node, Not | Scope):
        _literal_terms(node.operand, stem, stems, prefixes)


@contextmanager
def _cycle_collection_paused() -> Iterator[None]:
    """Pause Python's cycle collector while a batch is matched. Matching an article makes
    thousands of short-lived lists, sets and tuples and no reference cycles: reference
    counting frees them all, and the collector's passes over them, triggered by their
    number alone, were about a third of the time against few rules. It runs again
    afterwards (it stays off if something else had turned it off)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class RuleSet:
    """Many named rules, matched against documents through an index of their terms.

    Rules with the same query (many readers watching the same name) are indexed and
    evaluated once; each of them gets its own Match.

    `by_rarity=False` anchors each rule on its longest words rather than on wordfreq's
    estimates, which take a tenth of a second per language to load: for one query over
    articles a full-text index has already narrowed (a backtest), where the anchor makes
    no difference worth that. Either way the matches are the same.
    """

    def __init__(self, rules: Mapping[str, Query], *, by_rarity: bool = True) -> None:
        self._by_rarity = by_rarity
        self._names = list(rules)
        distinct: dict[Query, int] = {}
        self._query_ids = [distinct.setdefault(query, len(distinct)) for query in rules.values()]
        self._queries = list(distinct)
        # Query id -> the positions of the rules asking it (one, mostly).
        self._rules_of: list[tuple[int, ...]] = [() for _ in self._queries]
        for position, query_id in enumerate(self._query_ids):
            self._rules_of[query_id] += (position,)
        self._shared = len(self._queries) < len(self._names)
        self._indexes: dict[str | None, _Index] = {}

    def __len__(self) -> int:
        return len(self._names)

    def match(self, doc: Document) -> list[Match]:
        """Every rule that matches, in the rules' order, with its hits."""
        adoc = AnalysedDocument(doc)
        index = self._index_for(adoc.language)
        adoc.relevant = index.word_keys.stems
        adoc.word_keys = index.word_keys
        return self._match(adoc, index)

    def match_many(self, docs: Iterable[Document]) -> list[list[Match]]:
        """`match` of each document, worked as a batch: the new words of all the titles
        and bodies of one language are learnt first, so that each document then skips
        the checks for words never seen."""
        with _cycle_collection_paused():
            return self._match_many(docs)

    def _match_many(self, docs: Iterable[Document]) -> list[list[Match]]:
        adocs = [AnalysedDocument(doc) for doc in docs]
        indexes = [self._index_for(adoc.language) for adoc in adocs]
        for index in {id(index): index for index in indexes}.values():
            batch = [adoc for adoc, of in zip(adocs, indexes, strict=True) if of is index]
            keys = index.word_keys
            known = True  # not when the word memory is full
            for words in (adoc.words(name) for adoc in batch for name in TEXT_FIELDS):
                if not words.issubset(keys.seen):  # (cheaper than a union of the batch)
                    keys.learn(words)
                    known = known and words.issubset(keys.seen)
            for adoc in batch:
                adoc.relevant = keys.stems
                adoc.word_keys = keys
                adoc.known = known
        return [self._match(adoc, index) for adoc, index in zip(adocs, indexes, strict=True)]

    def _match(self, adoc: AnalysedDocument, index: _Index) -> list[Match]:
        found: list[tuple[int, Match]] = []
        results: dict[int, tuple[_RawHit, ...] | None] = {}
        known = adoc.hit_objects
        names, rules_of = self._names, self._rules_of
        # A literal's own hits as Hits, by the id of its raw hits (kept alive here).
        single: dict[int, tuple[tuple[_RawHit, ...], tuple[Hit, ...]]] = {}
        sorted_parts, disjoint = index.sorted_parts, index.disjoint_parts
        candidates = index.candidates(adoc)
        if candidates:
            adoc.looked_for = partial(index.words_looked_for, candidates)
        lone, literals = index.lone_literals, index.literals
        lone_hits: dict[int, tuple[Hit, ...] | None] = {}  # by literal id
        for query_id in candidates:
            literal = lone[query_id]
            if literal >= 0:
                # A rule of one literal (a name, a phrase): a lookup, no program to run.
                hits = lone_hits.get(literal, _UNSEEN)  # type: ignore[arg-type]
                if hits is _UNSEEN:
                    raw = results.get(literal, _UNSEEN)
                    if raw is _UNSEEN:
                        raw = results[literal] = literals[literal](adoc)
                    hits = None
                    if raw is not None:
                        entry = single.get(id(raw))
                        if entry is None:
                            entry = single[id(raw)] = (raw, _to_hits(raw, known))  # type: ignore[arg-type]
                        hits = entry[1]
                    lone_hits[literal] = hits
                if hits is None:
                    continue
                for position in rules_of[query_id]:
                    found.append((position, Match(names[position], hits)))  # type: ignore[arg-type]
                continue
            parts = index.evaluate(query_id, adoc, results)
            if parts is None:
                continue
            if len(parts) == 1 and sorted_parts[query_id]:
                # One literal's hits (fields in order, positions ascending) are sorted
                # and unique already: the same Hits for every rule sharing it.
                entry = single.get(id(parts[0]))
                if entry is None:
                    entry = single[id(parts[0])] = (parts[0], _to_hits(parts[0], known))
                hits = entry[1]
            else:
                # Sorted, disjoint runs: timsort merges them, no set needed.
                hits = _to_hits(chain.from_iterable(parts), known, disjoint[query_id])
            for position in rules_of[query_id]:
                found.append((position, Match(names[position], hits)))
        if self._shared:
            found.sort(key=_FIRST)
        return list(map(_SECOND, found))

    def _index_for(self, language: str) -> _Index:
        key = stemmer_name(language)  # languages sharing a stemmer share an index
        index = self._indexes.get(key)
        if index is None:
            estimates = rarity(language) if self._by_rarity else rarity(None, listed=False)
            index = self._indexes[key] = _Index(self._queries, get_stemmer(language), language,
                                                estimates)
        return index
