"""The message an alert attempt went out in (throttles count messages)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 03:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('alert_attempts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message_id', sa.String(length=100), nullable=True))
        batch_op.create_index(
            'ix_alert_attempts_notifier_id_started_at', ['notifier_id', 'started_at'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('alert_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_alert_attempts_notifier_id_started_at')
        batch_op.drop_column('message_id')
