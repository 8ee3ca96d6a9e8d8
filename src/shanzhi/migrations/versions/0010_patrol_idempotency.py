"""patrol logs remember the client's idempotency key, so a phone retrying a post logs once

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('patrol_logs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('idempotency_key', sa.String(length=100), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_patrol_logs_idempotency_key'), ['idempotency_key'])


def downgrade() -> None:
    with op.batch_alter_table('patrol_logs', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_patrol_logs_idempotency_key'), type_='unique')
        batch_op.drop_column('idempotency_key')
