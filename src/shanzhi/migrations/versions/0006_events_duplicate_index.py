"""index events by category, time and point for duplicate lookups (replaces 0004's index)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_category_created')
        batch_op.create_index('ix_events_category_created_point', ['category_code', 'created_at', 'lon', 'lat'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_category_created_point')
        batch_op.create_index('ix_events_category_created', ['category_code', 'created_at'], unique=False)
