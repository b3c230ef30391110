"""The rule query language: lexer, recursive-descent parser, immutable AST and printer.

A hand-written parser rather than a lark grammar, because the language is small but
context-sensitive in ways a grammar expresses poorly: operators are operators only in
capitals, a "-" or "=" or "title:" prefix must touch its operand, a space is an
implicit AND, and every error must say in words what was expected at which column
("a term after OR", 'a closing ")"'). Mapping a parser generator's expected-terminal
sets back to such messages is more code than the parser itself.

Grammar (tightest binding last; OR binds tighter than AND, as in web search engines, so
`Putin visit OR trip Pyongyang` is `Putin AND (visit OR trip) AND Pyongyang`):

    query   := all EOF
    all     := any ( ["AND"] any )*            -- juxtaposition is AND
    any     := near ( "OR" near )*
    near    := unary ( NEAR["/"n] unary )*     -- operands: words, phrases, prefixes, OR-groups
    unary   := ("-" | "NOT") primary | primary
    primary := WORD | WORD"*" | "=" WORD | ["="] '"' text '"' ["~" n]
             | FIELD ":" primary | "lang:" CODE | "(" all ")"

Every query must be able to *include* something: a query made only of exclusions
(`-sport`, `NOT (a OR b)`), or an OR with an excluded alternative (`a OR -b`), is
rejected. So every valid query has terms an article must contain, which is what lets
the matcher index rules by their terms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from alerts.text import fold_words

FIELDS = ("title", "body", "author", "source", "url")
LANG_FIELD = "lang"
OPERATORS = ("AND", "OR", "NOT")
DEFAULT_NEAR = 5
MAX_DISTANCE = 1000
MAX_DEPTH = 40  # nested parentheses / scopes; keeps every recursive walk shallow
MAX_NEAR_CHAIN = 16

_NEAR_RE = re.compile(r"NEAR(?:/(\d*))?$")
_DIGITS_RE = re.compile(r"\d*")
_LANG_CODE_RE = re.compile(r"[A-Za-z]{2,3}$")
_SPECIAL = '()"'


class QueryError(ValueError):
    """An invalid query: where (0-based `position`) and what was `expected` there."""

    def __init__(self, position: int, expected: str) -> None:
        self.position = position
        self.expected = expected
        super().__init__(f"column {position + 1}: expected {expected}")


# ---------------------------------------------------------------- AST


@dataclass(frozen=True, slots=True)
class Word:
    """A bare word. Several words inside it ("extra-time") must be consecutive."""

    text: str
    exact: bool = False  # `=word`: no stemming

    def __str__(self) -> str:
        return format_query(self)


@dataclass(frozen=True, slots=True)
class Prefix:
    """`sanction*`: any word starting with `text` (folded, never stemmed)."""

    text: str

    def __str__(self) -> str:
        return format_query(self)


@dataclass(frozen=True, slots=True)
class Phrase:
    """`"kim jong un"`: consecutive words; with `~n`, all within n words of each other."""

    text: str
    exact: bool = False
    slop: int | None = None

    def __str__(self) -> str:
        return format_query(self)


@dataclass(frozen=True, slots=True)
class Near:
    """`left NEAR/n right`: at most `distance` words between them, either order."""

    left: Query
    right: Query
    distance: int

    def __str__(self) -> str:
        return format_query(self)


@dataclass(frozen=True, slots=True)
class Not:
    operand: Query

    def __str__(self) -> str:
        return format_query(self)


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Query, ...]

    def __str__(self) -> str:
        return format_query(self)


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Query, ...]

    def __str__(self) -> str:
        return format_query(self)


@dataclass(frozen=True, slots=True)
class Scope:
    """`title:…`: the operand must match in that field (unscoped terms: title or body)."""

    field: str
    operand: Query

    def __str__(self) -> str:
        return format_query(self)


@dataclass(frozen=True, slots=True)
class Lang:
    """`lang:de`: the article's language (ISO 639-1; unknown counts as English)."""

    code: str

    def __str__(self) -> str:
        return format_query(self)


Query = Word | Prefix | Phrase | Near | Not | And | Or | Scope | Lang
TERMS = (Word, Prefix, Phrase)


def is_positive(node: Query) -> bool:
    """True if a match requires the article to contain something (not only lack it)."""
    if isinstance(node, Not):
        return False
    if isinstance(node, And):
        return any(is_positive(op) for op in node.operands)
    if isinstance(node, Or):
        return all(is_positive(op) for op in node.operands)
    if isinstance(node, Scope):
        return is_positive(node.operand)
    return True


def is_positional(node: Query) -> bool:
    """True if the node matches at word positions, so it can be an operand of NEAR."""
    if isinstance(node, (*TERMS, Near)):
        return True
    if isinstance(node, Or):
        return all(is_positional(op) for op in node.operands)
    if isinstance(node, Scope):
        return is_positional(node.operand)
    return False


# ---------------------------------------------------------------- printer


def format_query(node: Query) -> str:
    """Print a query back in the language; parse_query(format_query(q)) == q."""
    if isinstance(node, Word):
        return ("=" if node.exact else "") + node.text
    if isinstance(node, Prefix):
        return node.text + "*"
    if isinstance(node, Phrase):
        slop = f"~{node.slop}" if node.slop is not None else ""
        return f'{"=" if node.exact else ""}"{node.text}"{slop}'
    if isinstance(node, Lang):
        return f"{LANG_FIELD}:{node.code}"
    if isinstance(node, Scope):
        return f"{node.field}:{_format_primary(node.operand)}"
    if isinstance(node, Not):
        return "-" + _format_primary(node.operand)
    if isinstance(node, Near):
        left = _format_grouped(node.left, (And, Or, Not))
        right = _format_grouped(node.right, (And, Or, Not, Near))
        return f"{left} NEAR/{node.distance} {right}"
    if isinstance(node, Or):
        return " OR ".join(_format_grouped(op, (And, Or, Not)) for op in node.operands)
    if isinstance(node, And):
        return " ".join(_format_grouped(op, (And,)) for op in node.operands)
    raise TypeError(f"not a query node: {node!r}")


def _format_grouped(node: Query, needs_parens: tuple[type, ...]) -> str:
    text = format_query(node)
    return f"({text})" if isinstance(node, needs_parens) else text


def _format_primary(node: Query) -> str:
    return _format_grouped(node, (And, Or, Not, Near))


# ---------------------------------------------------------------- lexer


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # WORD PREFIX QUOTED LPAREN RPAREN MINUS EQUALS FIELD AND OR NOT NEAR
    text: str  # the source text of the token
    start: int
    end: int
    value: str = ""  # word/phrase text, field name
    number: int | None = None  # NEAR distance, phrase slop


def _lex(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            tokens.append(_Tok("LPAREN" if ch == "(" else "RPAREN", ch, i, i + 1))
            i += 1
        elif ch == '"':
            i = _lex_quoted(text, i, tokens)
        elif ch in "-=":
            tokens.append(_Tok("MINUS" if ch == "-" else "EQUALS", ch, i, i + 1))
            i += 1
        else:
            i = _lex_word(text, i, tokens)
    return tokens


def _lex_quoted(text: str, start: int, tokens: list[_Tok]) -> int:
    close = text.find('"', start + 1)
    if close < 0:
        raise QueryError(len(text), f'a closing " for the quote opened at column {start + 1}')
    end = close + 1
    slop = None
    if end < len(text) and text[end] == "~":
        digits = _DIGITS_RE.match(text, end + 1).group()  # type: ignore[union-attr]
        if not digits:
            raise QueryError(end + 1, 'a number of words after "~"')
        slop = _distance(digits, end + 1)
        end += 1 + len(digits)
    tokens.append(_Tok("QUOTED", text[start:end], start, end, text[start + 1 : close], slop))
    return end


def _lex_word(text: str, start: int, tokens: list[_Tok]) -> int:
    end = start
    while end < len(text) and not text[end].isspace() and text[end] not in _SPECIAL:
        end += 1
    word = text[start:end]
    field, colon, _ = word.partition(":")
    if colon and field.lower() in (*FIELDS, LANG_FIELD):
        split = start + len(field) + 1
        tokens.append(_Tok("FIELD", text[start:split], start, split, field.lower()))
        return split  # the operand is lexed on its own, so `title:-x` and `title:"a"` work
    if word in OPERATORS:
        tokens.append(_Tok(word, word, start, end))
    elif near := _NEAR_RE.match(word):
        if near.group(1) == "":
            raise QueryError(start + 5, 'a number of words after "NEAR/"')
        distance = _distance(near.group(1), start + 5) if near.group(1) else DEFAULT_NEAR
        tokens.append(_Tok("NEAR", word, start, end, number=distance))
    elif word.startswith("NEAR/"):
        raise QueryError(start + 5, 'a number of words after "NEAR/"')
    elif word.endswith("*"):
        tokens.append(_Tok("PREFIX", word, start, end, word[:-1]))
    else:
        tokens.append(_Tok("WORD", word, start, end, word))
    return end


def _distance(digits: str, position: int) -> int:
    if len(digits) > 4 or int(digits) > MAX_DISTANCE:
        raise QueryError(position, f"a distance of at most {MAX_DISTANCE} words")
    return int(digits)


# ---------------------------------------------------------------- parser


def parse_query(text: str) -> Query:
    """Parse a rule query; raise QueryError (only) if it is invalid."""
    if not isinstance(text, str):
        raise QueryError(0, "a query text")
    parser = _Parser(text, _lex(text))
    if not parser.tokens:
        raise QueryError(0, "a word or a quoted phrase: the query is empty")
    node = parser.parse_all()
    if parser.peek() is not None:  # only a stray ")" stops parse_all early
        raise QueryError(parser.peek().start, 'an opening "(" before this ")"')  # type: ignore[union-attr]
    if not is_positive(node):
        raise QueryError(
            parser.tokens[0].start,
            "at least one word that must be present: this query can only exclude",
        )
    return node


class _Parser:
    def __init__(self, text: str, tokens: list[_Tok]) -> None:
        self.text = text
        self.tokens = tokens
        self.index = 0
        self.depth = 0

    def peek(self) -> _Tok | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def advance(self) -> _Tok:
        tok = self.tokens[self.index]
        self.index += 1
        return tok

    def parse_all(self) -> Query:
        operands = [self.parse_any(after=None)]
        while (tok := self.peek()) is not None and tok.kind != "RPAREN":
            after = None
            if tok.kind == "AND":
                after = self.advance()
            operands.append(self.parse_any(after))
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def parse_any(self, after: _Tok | None) -> Query:
        starts = [self._start()]
        operands = [self.parse_near(after)]
        while (tok := self.peek()) is not None and tok.kind == "OR":
            self.advance()
            starts.append(self._start())
            operands.append(self.parse_near(tok))
        if len(operands) == 1:
            return operands[0]
        for start, operand in zip(starts, operands, strict=True):
            if not is_positive(operand):
                raise QueryError(start, "a term that must be present on each side of OR")
        return Or(tuple(operands))

    def parse_near(self, after: _Tok | None) -> Query:
        start = self._start()
        left = self.parse_unary(after)
        chain = 1
        while (tok := self.peek()) is not None and tok.kind == "NEAR":
            self._require_positional(left, start)
            self.advance()
            right_start = self._start()
            right = self.parse_unary(tok)
            self._require_positional(right, right_start)
            chain += 1
            if chain > MAX_NEAR_CHAIN:
                raise QueryError(tok.start, f"at most {MAX_NEAR_CHAIN} terms in one NEAR chain")
            left = Near(left, right, tok.number if tok.number is not None else DEFAULT_NEAR)
        return left

    def parse_unary(self, after: _Tok | None) -> Query:
        tok = self.peek()
        if tok is not None and tok.kind in ("MINUS", "NOT"):
            self.advance()
            if tok.kind == "MINUS":
                self._require_touching(tok)
            return Not(self.parse_primary(tok))
        return self.parse_primary(after)

    def parse_primary(self, after: _Tok | None) -> Query:
        tok = self.peek()
        if tok is None or tok.kind in ("RPAREN", "AND", "OR", "NEAR", "MINUS", "NOT"):
            raise self._missing_term(tok, after)
        self.advance()
        if tok.kind == "LPAREN":
            return self._parse_group(tok)
        if tok.kind == "FIELD":
            return self._parse_scope(tok)
        if tok.kind == "EQUALS":
            return self._parse_exact(tok)
        if tok.kind == "QUOTED":
            return self._phrase(tok, exact=False)
        if tok.kind == "PREFIX":
            return self._prefix(tok)
        return self._word(tok, exact=False)

    def _parse_group(self, lparen: _Tok) -> Query:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryError(lparen.start, f"at most {MAX_DEPTH} nested groups")
        if (tok := self.peek()) is not None and tok.kind == "RPAREN":
            raise QueryError(tok.start, 'a term between "(" and ")"')
        inner = self.parse_all()
        if self.peek() is None:
            raise QueryError(
                len(self.text), f'a closing ")" for the "(" at column {lparen.start + 1}'
            )
        self.advance()
        self.depth -= 1
        return inner

    def _parse_scope(self, field_tok: _Tok) -> Query:
        if field_tok.value == LANG_FIELD:
            self._require_touching(field_tok, 'a language code such as "en"')
            return self._parse_lang(field_tok)
        self._require_touching(field_tok)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryError(field_tok.start, f"at most {MAX_DEPTH} nested groups")
        operand = self.parse_primary(field_tok)
        self.depth -= 1
        return Scope(field_tok.value, operand)

    def _parse_lang(self, field_tok: _Tok) -> Query:
        tok = self.advance()
        if tok.kind != "WORD" or not _LANG_CODE_RE.match(tok.value):
            raise QueryError(tok.start, 'a language code such as "en" or "de" after lang:')
        return Lang(tok.value.lower())

    def _parse_exact(self, equals: _Tok) -> Query:
        self._require_touching(equals, "a word or a quoted phrase")
        tok = self.advance()
        if tok.kind == "QUOTED":
            return self._phrase(tok, exact=True)
        if tok.kind == "WORD":
            return self._word(tok, exact=True)
        raise QueryError(tok.start, 'a word or a quoted phrase right after "="')

    def _word(self, tok: _Tok, exact: bool) -> Word:
        if "*" in tok.value:
            raise QueryError(tok.start + tok.value.index("*"), "a * only at the end of a word")
        if not fold_words(tok.value):
            raise QueryError(tok.start, f"a word with letters or digits, not {tok.value!r}")
        return Word(tok.value, exact)

    def _prefix(self, tok: _Tok) -> Prefix:
        stem = tok.value
        if "*" in stem:
            raise QueryError(tok.start + stem.index("*"), "a single * at the end of a word")
        if len(fold_words(stem)) != 1:
            raise QueryError(tok.start, "a single word (letters or digits) before *")
        return Prefix(stem)

    def _phrase(self, tok: _Tok, exact: bool) -> Phrase:
        if "*" in tok.value:
            raise QueryError(
                tok.start + 1 + tok.value.index("*"), "no * inside quotes (wildcards end words)"
            )
        if not fold_words(tok.value):
            raise QueryError(tok.start, "words between the quotes")
        return Phrase(tok.value, exact, tok.number)

    def _start(self) -> int:
        tok = self.peek()
        return tok.start if tok is not None else len(self.text)

    def _require_touching(self, tok: _Tok, what: str = 'a word, phrase or "("') -> None:
        following = self.peek()
        if following is None or following.start != tok.end:
            position = following.start if following is not None else len(self.text)
            raise QueryError(min(tok.end, position), f"{what} right after {tok.text}")

    def _require_positional(self, node: Query, start: int) -> None:
        if not is_positional(node):
            raise QueryError(start, 'a word, phrase, prefix* or "(… OR …)" beside NEAR')

    def _missing_term(self, tok: _Tok | None, after: _Tok | None) -> QueryError:
        position = tok.start if tok is not None else len(self.text)
        if after is not None:
            return QueryError(position, f"a term after {after.text}")
        if tok is not None and tok.kind in ("AND", "OR", "NEAR"):
            return QueryError(position, f"a term before {tok.text}")
        if tok is not None and tok.kind == "RPAREN":
            return QueryError(position, 'a term before ")"')
        return QueryError(position, "a term")
