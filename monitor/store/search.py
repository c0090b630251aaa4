"""Full-text search over stored statements: the index prefilters, the matcher decides.

Every statement carries ``search_text`` (:func:`search_text`): its words folded by
monitor's normalizer, each followed by its forms without Arabic proclitics, so
the database's own full-text index sees ``امريكا`` in ``وأمريكا``. The index is
an FTS5 table on SQLite and a GIN index on ``to_tsvector('simple', search_text)``
on PostgreSQL (migration 0003). Ingest fills it on insert and on every edit; code
that writes statements another way must set it too (the column defaults to '',
which no word finds).

:func:`search` turns a compiled query into a boolean query for that index
(:func:`prefilter`): AND stays AND, OR stays OR, a phrase and ``NEAR`` need all
their words, a prefix is a prefix query, and ``NOT`` and field filters ask
nothing. That gives a superset of the statements that can match, never fewer.
The list filters are applied in SQL, then the exact matcher runs on the
candidates, newest first, until ``limit`` matches are found.

A query that can match without any word (``NOT war``, ``lang:ar OR war``) has no
prefilter: the statements the list filters select are scanned, newest first,
which is slower on a large store (narrow it with ``--since`` or ``--source``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Row,
    Select,
    SQLColumnExpression,
    and_,
    func,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session, selectinload

# The prefilter asks for exactly the forms the matcher accepts, and search
# selects exactly what `items list` selects: both come from their modules.
from monitor.rules.matcher import (
    CompiledQuery,
    Fields,
    QueryHit,
    analyze,
    query_forms,
)
from monitor.rules.query import And, Near, Node, Or, Term
from monitor.store.models import Statement
from monitor.store.queries import ItemFilters, filtered_statements
from monitor.text.normalize import Token, fold, stems, tokenize

__all__ = [
    "AllOf",
    "AnyOf",
    "Need",
    "SearchHit",
    "Word",
    "fts5_query",
    "include_in_autogenerate",
    "prefilter",
    "search",
    "search_text",
    "searchable",
    "tsquery",
]

# Longer words are not asked of the index (PostgreSQL skips words over 2 KB).
MAX_INDEXED_WORD = 200
FIRST_BATCH = 100
MAX_BATCH = 5000
LOAD_CHUNK = 1000

# Schema objects migration 0003 creates that the models do not describe.
_FTS_TABLE = "statements_fts"
_TSV_INDEX = "ix_statements_search_text_tsv"
_TSVECTOR = "to_tsvector('simple'::regconfig, statements.search_text)"


def searchable(text: str, title: str | None) -> str:
    """What search reads: the text, then the title when the text does not carry it.

    Sources put the title at the head of the text already (RSS, YouTube), so this
    is the text itself in practice and evidence spans index ``text``.
    """
    if not title:
        return text
    head = title.strip(" .…")
    # As written first: folding a whole text costs more than the rest of search_text.
    if head in text or fold(head) in fold(text):
        return text
    return f"{text}\n\n{title}"


def search_text(text: str, title: str | None, tokens: Sequence[Token] | None = None) -> str:
    """The ``statements.search_text`` of a statement: every folded word and its stems.

    ``tokens``: ``tokenize(text)`` when the caller has it already (the poll's
    analysis did it), used when the search text is the text itself.
    """
    readable = searchable(text, title)
    words = tokens if tokens is not None and readable is text else tokenize(readable)
    return " ".join([_forms(token.text) for token in words])


@lru_cache(maxsize=65536)
def _forms(word: str) -> str:
    """A word's part of search_text; words repeat across statements: cached."""
    return " ".join(stems(word))


@dataclass(frozen=True, slots=True)
class Word:
    """A statement must carry this folded word (or a word it begins, for a prefix)."""

    text: str
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class AllOf:
    parts: tuple[Need, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    parts: tuple[Need, ...]


Need = Word | AllOf | AnyOf


def prefilter(query: CompiledQuery) -> Need | None:
    """What the index must find in a statement the query can match; None: nothing."""
    return _need(query.ast)


def _need(node: Node) -> Need | None:
    if isinstance(node, Term):
        last = len(node.words) - 1
        return _all([_word(word, node.prefix and i == last) for i, word in enumerate(node.words)])
    if isinstance(node, Near):
        return _all([_need(node.left), _need(node.right)])
    if isinstance(node, And):
        return _all([_need(operand) for operand in node.operands])
    if isinstance(node, Or):
        return _any([_need(operand) for operand in node.operands])
    return None  # NOT and field filters: no word is required


def _word(word: str, prefix: bool) -> Need | None:
    # A query word matches a token or one of its stems; an Arabic word with the
    # article also matches the bare word (the matcher's query forms).
    forms = query_forms(word)
    if any(len(form) > MAX_INDEXED_WORD for form in forms):
        return None
    return _any([Word(form, prefix) for form in forms])


def _all(parts: list[Need | None]) -> Need | None:
    needed = tuple(part for part in parts if part is not None)
    if not needed:
        return None
    return needed[0] if len(needed) == 1 else AllOf(needed)


def _any(parts: list[Need | None]) -> Need | None:
    if not parts or any(part is None for part in parts):
        return None
    alternatives = tuple(part for part in parts if part is not None)
    return alternatives[0] if len(alternatives) == 1 else AnyOf(alternatives)


def fts5_query(need: Need) -> str:
    """The FTS5 MATCH expression; every word is a quoted string."""
    if isinstance(need, Word):
        quoted = '"' + need.text.replace('"', '""') + '"'
        return quoted + "*" if need.prefix else quoted
    joiner = " AND " if isinstance(need, AllOf) else " OR "
    return "(" + joiner.join(fts5_query(part) for part in need.parts) + ")"


def tsquery(need: Need) -> str:
    """The ``to_tsquery`` text; every word is a quoted lexeme."""
    if isinstance(need, Word):
        quoted = "'" + need.text.replace("\\", "\\\\").replace("'", "''") + "'"
        return quoted + ":*" if need.prefix else quoted
    joiner = " & " if isinstance(need, AllOf) else " | "
    return "(" + joiner.join(tsquery(part) for part in need.parts) + ")"


@dataclass(frozen=True)
class SearchHit:
    """A statement the query matched, with the matcher's evidence."""

    statement: Statement
    evidence: QueryHit


def search(session: Session, query: CompiledQuery, filters: ItemFilters) -> list[SearchHit]:
    """The statements the query matches among those the filters select, newest first.

    ``filters.limit`` (0: all) counts exact matches, not index candidates.
    """
    found: dict[int, QueryHit] = {}
    for batch in _candidate_batches(session, filters, prefilter(query)):
        for row in _texts(session, batch):
            fields = Fields(leader=row.leader_id, source=row.source_id, language=row.language)
            hit = query.match(analyze(searchable(row.text, row.title)), fields)
            if hit is not None:
                found[row.id] = hit
                if len(found) == filters.limit:
                    return _hits(session, found)
    return _hits(session, found)


@dataclass(frozen=True)
class _Keys:
    """The candidates' (id, published_at), and those two columns to order and page by."""

    query: Select[*tuple[Any, ...]]
    id: SQLColumnExpression[int]
    published_at: SQLColumnExpression[datetime]


def _keys(session: Session, filters: ItemFilters, need: Need | None) -> _Keys:
    keys = filtered_statements(filters).with_only_columns(Statement.id, Statement.published_at)
    if need is None:
        return _Keys(keys, Statement.id, Statement.published_at)
    if session.get_bind().dialect.name == "postgresql":
        matches = literal_column(_TSVECTOR).bool_op("@@")(
            func.to_tsquery(literal_column("'simple'::regconfig"), tsquery(need))
        )
        # Materialized: the GIN index finds the candidates once. Inline, with the
        # LIMIT below, the planner walks the published_at index instead and parses
        # every row's search_text on the way.
        hits = keys.where(matches).cte("search_candidates").prefix_with("MATERIALIZED")
        return _Keys(select(hits.c.id, hits.c.published_at), hits.c.id, hits.c.published_at)
    found = text(f"SELECT rowid FROM {_FTS_TABLE} WHERE {_FTS_TABLE} MATCH :fts").bindparams(
        fts=fts5_query(need)
    )
    # ``id + 0``: not a lookup of every FTS hit by rowid then a sort of them all, but
    # the published_at index walked newest first, probing the hits, stopping early.
    condition = (Statement.id + literal_column("0")).in_(found.columns(literal_column("rowid")))
    return _Keys(keys.where(condition), Statement.id, Statement.published_at)


def _candidate_batches(
    session: Session, filters: ItemFilters, need: Need | None
) -> Iterator[list[int]]:
    """Candidate ids, newest first, in growing batches (keyset pagination)."""
    keys = _keys(session, filters, need)
    size = max(FIRST_BATCH, 2 * filters.limit) if filters.limit else MAX_BATCH
    after: tuple[datetime, int] | None = None
    while True:
        query = keys.query
        if after is not None:
            published, last_id = after
            query = query.where(
                or_(
                    keys.published_at < published,
                    and_(keys.published_at == published, keys.id < last_id),
                )
            )
        rows = session.execute(
            query.order_by(keys.published_at.desc(), keys.id.desc()).limit(size)
        ).all()
        if rows:
            yield [row[0] for row in rows]
        if len(rows) < size:
            return
        after = (rows[-1][1], rows[-1][0])
        size = min(size * 4, MAX_BATCH)


def _texts(session: Session, ids: list[int]) -> list[Row[*tuple[Any, ...]]]:
    """What the matcher reads of these statements, in the order of ``ids``."""
    rows = session.execute(
        select(
            Statement.id,
            Statement.text,
            Statement.title,
            Statement.leader_id,
            Statement.source_id,
            Statement.language,
        ).where(Statement.id.in_(ids))
    ).all()
    by_id = {row.id: row for row in rows}
    return [by_id[statement_id] for statement_id in ids if statement_id in by_id]


def _hits(session: Session, found: dict[int, QueryHit]) -> list[SearchHit]:
    ids = list(found)
    by_id: dict[int, Statement] = {}
    for start in range(0, len(ids), LOAD_CHUNK):  # SQLite caps the variables of a query
        by_id.update(
            (statement.id, statement)
            for statement in session.scalars(
                select(Statement)
                .where(Statement.id.in_(ids[start : start + LOAD_CHUNK]))
                .options(selectinload(Statement.matches))
            )
        )
    return [SearchHit(by_id[statement_id], hit) for statement_id, hit in found.items()]


def include_in_autogenerate(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic ``include_name`` hook: leave out the search index objects of 0003.

    The FTS5 table (and its shadow tables) and the expression index are created by
    the migration and described by no model; autogenerate must not drop them.
    """
    if type_ == "table" and name is not None and name.startswith(_FTS_TABLE):
        return False
    return not (type_ == "index" and name == _TSV_INDEX)
