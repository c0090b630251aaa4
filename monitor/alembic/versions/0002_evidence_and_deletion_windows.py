"""Evidence bodies, deletion windows, matched versions, config fingerprints

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 00:44:33.797458
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('raw_responses',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('source_id', sa.String(length=100), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('content_type', sa.Text(), nullable=True),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], name=op.f('fk_raw_responses_source_id_sources'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_raw_responses'))
    )
    with op.batch_alter_table('raw_responses', schema=None) as batch_op:
        batch_op.create_index('ix_raw_responses_fetched_at', ['fetched_at'], unique=False)

    with op.batch_alter_table('matches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='1'))

    with op.batch_alter_table('sources', schema=None) as batch_op:
        batch_op.add_column(sa.Column('config_hash', sa.String(length=64), nullable=True))

    with op.batch_alter_table('statement_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('raw_response_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_statement_versions_raw_response_id'), ['raw_response_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_statement_versions_raw_response_id_raw_responses'), 'raw_responses', ['raw_response_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('statements', schema=None) as batch_op:
        batch_op.add_column(sa.Column('quote_of', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('sort_key', sa.BigInteger(), nullable=True))
        batch_op.create_index('ix_statements_source_id_sort_key', ['source_id', 'sort_key'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('statements', schema=None) as batch_op:
        batch_op.drop_index('ix_statements_source_id_sort_key')
        batch_op.drop_column('sort_key')
        batch_op.drop_column('quote_of')

    with op.batch_alter_table('statement_versions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_statement_versions_raw_response_id_raw_responses'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_statement_versions_raw_response_id'))
        batch_op.drop_column('raw_response_id')

    with op.batch_alter_table('sources', schema=None) as batch_op:
        batch_op.drop_column('config_hash')

    with op.batch_alter_table('matches', schema=None) as batch_op:
        batch_op.drop_column('version')

    with op.batch_alter_table('raw_responses', schema=None) as batch_op:
        batch_op.drop_index('ix_raw_responses_fetched_at')

    op.drop_table('raw_responses')
