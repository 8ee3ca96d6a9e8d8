"""housing people record which identity document their ID number is of (existing rows: resident IDs)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('housing_people', schema=None) as batch_op:
        batch_op.add_column(sa.Column('id_type', sa.String(length=24), server_default='resident_id', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('housing_people', schema=None) as batch_op:
        batch_op.drop_column('id_type')
