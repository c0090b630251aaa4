"""Full-text search: statements.search_text, FTS5 on SQLite, a GIN index on PostgreSQL

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 10:00:00.000000

``search_text`` is the statement's text (and its title when the text does not
carry it) folded and tokenized by monitor's normalizer, every word followed by
its forms without Arabic proclitics. The full-text index of each database is
built over it: an external-content FTS5 table kept in sync by triggers on
SQLite, an expression GIN index on ``to_tsvector('simple', search_text)`` on
PostgreSQL. Existing rows are filled here, in Python, in batches.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from monitor.text.normalize import fold, stems, tokenize

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000

_SQLITE_SCHEMA = [
    "CREATE VIRTUAL TABLE statements_fts USING fts5("
    "search_text, content='statements', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 0')",
    "INSERT INTO statements_fts(statements_fts) VALUES ('rebuild')",
    "CREATE TRIGGER statements_fts_insert AFTER INSERT ON statements BEGIN "
    "INSERT INTO statements_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER statements_fts_delete AFTER DELETE ON statements BEGIN "
    "INSERT INTO statements_fts(statements_fts, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER statements_fts_update AFTER UPDATE OF search_text ON statements BEGIN "
    "INSERT INTO statements_fts(statements_fts, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO statements_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
]
_POSTGRES_INDEX = (
    "CREATE INDEX ix_statements_search_text_tsv ON statements "
    "USING gin (to_tsvector('simple'::regconfig, search_text))"
)


def _search_text(text: str, title: str | None) -> str:
    # A copy of monitor.store.search.search_text as of this revision: migrations
    # must not import the store (tests check both give the same result).
    if title and fold(title.strip(" .…")) not in fold(text):
        text = f"{text}\n\n{title}"
    return " ".join(form for token in tokenize(text) for form in stems(token.text))


def _fill(connection: sa.Connection) -> None:
    statements = sa.table(
        'statements',
        sa.column('id', sa.Integer()),
        sa.column('text', sa.Text()),
        sa.column('title', sa.Text()),
        sa.column('search_text', sa.Text()),
    )
    update = (
        sa.update(statements)
        .where(statements.c.id == sa.bindparam('row_id'))
        .values(search_text=sa.bindparam('value'))
    )
    last = 0
    while True:
        rows = connection.execute(
            sa.select(statements.c.id, statements.c.text, statements.c.title)
            .where(statements.c.id > last)
            .order_by(statements.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        connection.execute(
            update,
            [{'row_id': row.id, 'value': _search_text(row.text, row.title)} for row in rows],
        )
        last = rows[-1].id


def upgrade() -> None:
    op.add_column(
        'statements', sa.Column('search_text', sa.Text(), nullable=False, server_default='')
    )
    connection = op.get_bind()
    _fill(connection)
    if connection.dialect.name == 'sqlite':
        for statement in _SQLITE_SCHEMA:
            op.execute(statement)
    elif connection.dialect.name == 'postgresql':
        op.execute(_POSTGRES_INDEX)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        for trigger in ('insert', 'update', 'delete'):
            op.execute(f'DROP TRIGGER IF EXISTS statements_fts_{trigger}')
        op.execute('DROP TABLE IF EXISTS statements_fts')
        # ALTER TABLE ... DROP COLUMN (SQLite 3.35+), not a batch copy of the
        # table: dropping the old table would cascade to matches and versions.
        op.execute('ALTER TABLE statements DROP COLUMN search_text')
    else:
        op.execute('DROP INDEX IF EXISTS ix_statements_search_text_tsv')
        op.drop_column('statements', 'search_text')
