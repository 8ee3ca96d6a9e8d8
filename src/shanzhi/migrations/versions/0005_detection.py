"""detection: category corrections and alerts

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('category_corrections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('previous_code', sa.String(length=4), nullable=True),
    sa.Column('previous_source', sa.String(length=12), nullable=False),
    sa.Column('chosen_code', sa.String(length=4), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_category_corrections_event_id_events'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_category_corrections'))
    )
    with op.batch_alter_table('category_corrections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_category_corrections_event_id'), ['event_id'], unique=False)

    op.create_table('detect_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('region_code', sa.String(length=18), nullable=False),
    sa.Column('category_code', sa.String(length=4), nullable=True),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('dismissed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('dismissed_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_detect_alerts_event_id_events'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_detect_alerts')),
    sa.UniqueConstraint('key', name=op.f('uq_detect_alerts_key'))
    )
    with op.batch_alter_table('detect_alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_detect_alerts_event_id'), ['event_id'], unique=False)
        batch_op.create_index('ix_detect_alerts_open', ['dismissed_at', 'updated_at'], unique=False)
        batch_op.create_index('ix_detect_alerts_region', ['region_code'], unique=False, postgresql_ops={'region_code': 'varchar_pattern_ops'})



def downgrade() -> None:
    with op.batch_alter_table('detect_alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_detect_alerts_region', postgresql_ops={'region_code': 'varchar_pattern_ops'})
        batch_op.drop_index('ix_detect_alerts_open')
        batch_op.drop_index(batch_op.f('ix_detect_alerts_event_id'))

    op.drop_table('detect_alerts')
    with op.batch_alter_table('category_corrections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_category_corrections_event_id'))

    op.drop_table('category_corrections')
