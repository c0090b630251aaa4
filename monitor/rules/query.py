"""The keyword query language of ``match:`` rules: lexer and recursive-descent parser.

Grammar, loosest first (operators are uppercase only; ``and``/``or``/``not`` are words)::

    query   := or EOF
    or      := and ("OR" and)*
    and     := not (["AND"] not)*          adjacent terms are ANDed
    not     := "NOT" not | near
    near    := atom ("NEAR/" n atom)*       operands: terms, NEARs, or ORs of them
    atom    := term | field | "(" or ")"
    term    := word | word* | "quoted phrase" | "quoted prefix*"
    field   := (leader | source | lang) ":" [A-Za-z0-9_-]+

Words are folded and cut with :func:`monitor.text.normalize.tokenize`, so a word
such as ``al-Kaabi`` becomes the phrase ``al kaabi``. Errors raise
:class:`~monitor.errors.QuerySyntaxError` with a 1-based column; at the end of the
query the column is one past the last character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeAlias

from monitor.errors import QuerySyntaxError
from monitor.text.normalize import tokenize

__all__ = [
    "FIELDS",
    "And",
    "Field",
    "Near",
    "Node",
    "Not",
    "Or",
    "Term",
    "is_positional",
    "parse_query",
]

FIELDS = ("lang", "leader", "source")


@dataclass(frozen=True, slots=True)
class Term:
    """A word, a phrase or a prefix: ``words`` are folded; ``prefix`` applies to the last."""

    text: str
    words: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class Field:
    """``name:value``: true when the statement's leader/source/language is ``value``."""

    name: str
    value: str


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Near:
    """An occurrence of ``left`` and one of ``right`` at most ``distance`` words apart."""

    left: Node
    right: Node
    distance: int


Node: TypeAlias = Term | Field | Not | And | Or | Near


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # term, field, and, or, not, near, lparen, rparen, end
    text: str  # as written
    column: int
    node: Term | Field | None = None
    distance: int = 0


_OPERATORS = {"AND": "and", "OR": "or", "NOT": "not"}
_FIELD = re.compile(r"([A-Za-z]+):(.*)", re.DOTALL)
_FIELD_VALUE = re.compile(r"[A-Za-z0-9_-]+")
_NEAR = re.compile(r"NEAR/(\d+)")
_WORD_END = re.compile(r'[\s()"]')
_TERM_STARTS = frozenset({"term", "field", "not", "lparen"})


def parse_query(text: str) -> Node:
    """The syntax tree of a query; raises QuerySyntaxError with the column at fault."""
    return _Parser(_lex(text)).parse()


def _lex(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char.isspace():
            pos += 1
        elif char in "()":
            tokens.append(_Tok("lparen" if char == "(" else "rparen", char, pos + 1))
            pos += 1
        elif char == '"':
            close = text.find('"', pos + 1)
            if close < 0:
                raise QuerySyntaxError("unterminated quote", pos + 1)
            tokens.append(_phrase(text[pos + 1 : close], pos + 1))
            pos = close + 1
        else:
            found = _WORD_END.search(text, pos)
            end = found.start() if found else len(text)
            tokens.append(_word(text[pos:end], pos + 1))
            pos = end
    tokens.append(_Tok("end", "", len(text) + 1))
    return tokens


def _word(word: str, column: int) -> _Tok:
    if word in _OPERATORS:
        return _Tok(_OPERATORS[word], word, column)
    if word == "NEAR" or word.startswith("NEAR/"):
        return _near(word, column)
    field = _FIELD.fullmatch(word)
    if field:
        return _Tok("field", word, column, node=_field(field.group(1), field.group(2), column))
    return _Tok("term", word, column, node=_term(word, column))


def _near(word: str, column: int) -> _Tok:
    match = _NEAR.fullmatch(word)
    if not match:
        raise QuerySyntaxError("NEAR needs a number, as in NEAR/5", column)
    distance = int(match.group(1))
    if distance < 1:
        raise QuerySyntaxError("NEAR needs a distance of at least 1, as in NEAR/5", column)
    return _Tok("near", word, column, distance=distance)


def _field(name: str, value: str, column: int) -> Field:
    if name.lower() not in FIELDS:
        raise QuerySyntaxError(f"unknown field '{name}' (valid: {', '.join(FIELDS)})", column)
    value_column = column + len(name) + 1
    if not value:
        raise QuerySyntaxError(f"expected a value after '{name}:'", value_column)
    if not _FIELD_VALUE.fullmatch(value):
        bad = next(i for i, char in enumerate(value) if not _FIELD_VALUE.fullmatch(char))
        raise QuerySyntaxError(
            f"'{value[bad]}' is not allowed in a value of '{name}:' "
            "(use letters, digits, '-' and '_')",
            value_column + bad,
        )
    return Field(name.lower(), value)


def _phrase(content: str, column: int) -> _Tok:
    """A quoted phrase; ``column`` is that of the opening quote."""
    written = content.strip()
    offset = column + 1 + (len(content) - len(content.lstrip()))
    term = _term(written, offset, quote_column=column)
    return _Tok("term", f'"{content}"', column, node=term)


def _term(written: str, column: int, quote_column: int | None = None) -> Term:
    """A term from a bare word or a phrase's content; ``column`` is that of ``written``."""
    star = written.find("*")
    prefix = star >= 0
    if prefix and star != len(written) - 1:
        where = "a word" if quote_column is None else "a phrase"
        raise QuerySyntaxError(f"'*' is only allowed at the end of {where}", column + star)
    body = written[:-1] if prefix else written
    if prefix and (not body or body[-1].isspace()):
        raise QuerySyntaxError("'*' must follow a word, as in escalat*", column + star)
    words = tuple(token.text for token in tokenize(body))
    if not words:
        if quote_column is not None:
            raise QuerySyntaxError("empty phrase", quote_column)
        raise QuerySyntaxError(f"nothing to match in '{written}'", column)
    return Term(text=written, words=words, prefix=prefix)


class _Parser:
    def __init__(self, tokens: list[_Tok]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> _Tok:
        return self.tokens[self.pos]

    def take(self) -> _Tok:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise QuerySyntaxError("empty query", 1)
        node = self.or_(None)
        token = self.peek()
        if token.kind != "end":  # only a stray ')' can be left over
            raise QuerySyntaxError(f"unexpected '{token.text}'", token.column)
        return node

    def or_(self, after: _Tok | None) -> Node:
        operands = [self.and_(after)]
        while self.peek().kind == "or":
            operator = self.take()
            operands.append(self.and_(operator))
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def and_(self, after: _Tok | None) -> Node:
        operands = [self.not_(after)]
        while True:
            if self.peek().kind == "and":
                operator = self.take()
                operands.append(self.not_(operator))
            elif self.peek().kind in _TERM_STARTS:
                operands.append(self.not_(None))
            else:
                break
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def not_(self, after: _Tok | None) -> Node:
        if self.peek().kind == "not":
            operator = self.take()
            return Not(self.not_(operator))
        return self.near(after)

    def near(self, after: _Tok | None) -> Node:
        column = self.peek().column
        node = self.atom(after)
        while self.peek().kind == "near":
            operator = self.take()
            _require_positional(node, column)
            right_column = self.peek().column
            right = self.atom(operator)
            _require_positional(right, right_column)
            node = Near(node, right, operator.distance)
        return node

    def atom(self, after: _Tok | None) -> Node:
        token = self.peek()
        if token.kind in ("term", "field"):
            self.take()
            assert token.node is not None
            return token.node
        if token.kind == "lparen":
            self.take()
            node = self.or_(token)
            closing = self.peek()
            if closing.kind != "rparen":
                raise QuerySyntaxError("expected ')'", closing.column)
            self.take()
            return node
        if after is not None:
            raise QuerySyntaxError(f"expected a term after '{after.text}'", token.column)
        raise QuerySyntaxError(f"unexpected '{token.text}'", token.column)


def is_positional(node: Node) -> bool:
    """Whether a node has occurrences at word positions (what NEAR can combine)."""
    if isinstance(node, Term | Near):
        return True
    return isinstance(node, Or) and all(is_positional(operand) for operand in node.operands)


def _require_positional(node: Node, column: int) -> None:
    if not is_positional(node):
        raise QuerySyntaxError(
            "NEAR needs a word, phrase or prefix on each side (or an OR of them)", column
        )
