"""events, timeline, photos, notifications, outbox

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('event_counters',
    sa.Column('prefix', sa.String(length=24), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('prefix', name=op.f('pk_event_counters'))
    )
    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('topic', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_outbox_dedupe_key'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_pending', ['delivered_at', 'next_attempt_at'], unique=False)

    op.create_table('events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('tracking_hash', sa.String(length=64), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('category_code', sa.String(length=4), nullable=True),
    sa.Column('category_source', sa.String(length=12), nullable=False),
    sa.Column('urgency', sa.String(length=8), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('address', sa.String(length=200), nullable=True),
    sa.Column('region_code', sa.String(length=18), nullable=False),
    sa.Column('town_code', sa.String(length=9), nullable=True),
    sa.Column('village_code', sa.String(length=12), nullable=True),
    sa.Column('reporter_id', sa.Integer(), nullable=True),
    sa.Column('reporter_name', sa.String(length=64), nullable=True),
    sa.Column('reporter_phone_encrypted', sa.LargeBinary(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('tier', sa.String(length=10), nullable=True),
    sa.Column('assigned_org_id', sa.Integer(), nullable=True),
    sa.Column('proposed_tier', sa.String(length=10), nullable=True),
    sa.Column('proposed_org_id', sa.Integer(), nullable=True),
    sa.Column('routing_overridden', sa.Boolean(), nullable=False),
    sa.Column('policy_version', sa.String(length=40), nullable=True),
    sa.Column('limit_amount', sa.Float(), nullable=True),
    sa.Column('limit_unit', sa.String(length=16), nullable=True),
    sa.Column('clock_started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('yellow_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deadline_state', sa.String(length=8), nullable=False),
    sa.Column('next_check_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('escalations', sa.Integer(), nullable=False),
    sa.Column('reworks', sa.Integer(), nullable=False),
    sa.Column('extensions', sa.Integer(), nullable=False),
    sa.Column('pending_extension', sa.Float(), nullable=True),
    sa.Column('merged_into_id', sa.Integer(), nullable=True),
    sa.Column('result_text', sa.Text(), nullable=True),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('rating_comment', sa.String(length=500), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=80), nullable=True),
    sa.Column('request_hash', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_on_time', sa.Boolean(), nullable=True),
    sa.Column('closed_tier', sa.String(length=10), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assigned_org_id'], ['organizations.id'], name=op.f('fk_events_assigned_org_id_organizations'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['merged_into_id'], ['events.id'], name=op.f('fk_events_merged_into_id_events'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['proposed_org_id'], ['organizations.id'], name=op.f('fk_events_proposed_org_id_organizations'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['reporter_id'], ['users.id'], name=op.f('fk_events_reporter_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events')),
    sa.UniqueConstraint('code', name=op.f('uq_events_code')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_events_idempotency_key'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_events_assigned_org_id'), ['assigned_org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_events_category_code'), ['category_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_events_channel'), ['channel'], unique=False)
        batch_op.create_index('ix_events_next_check', ['next_check_at'], unique=False)
        batch_op.create_index('ix_events_region_code', ['region_code'], unique=False, postgresql_ops={'region_code': 'varchar_pattern_ops'})
        batch_op.create_index(batch_op.f('ix_events_reporter_id'), ['reporter_id'], unique=False)
        batch_op.create_index('ix_events_status_created', ['status', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_events_town_code'), ['town_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_events_village_code'), ['village_code'], unique=False)

    op.create_table('event_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_name', sa.String(length=100), nullable=True),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('data', sa.Text(), nullable=True),
    sa.Column('public', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_event_steps_event_id_events'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_steps'))
    )
    with op.batch_alter_table('event_steps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_steps_event_id'), ['event_id'], unique=False)

    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('message', sa.String(length=500), nullable=False),
    sa.Column('dedupe_key', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_notifications_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notifications_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    sa.UniqueConstraint('user_id', 'dedupe_key', name='uq_notifications_dedupe')
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifications_user_id'), ['user_id'], unique=False)

    op.create_table('event_photos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('step_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('mime', sa.String(length=32), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('thumbnail', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_event_photos_event_id_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['step_id'], ['event_steps.id'], name=op.f('fk_event_photos_step_id_event_steps'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_photos'))
    )
    with op.batch_alter_table('event_photos', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_photos_event_id'), ['event_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('event_photos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_photos_event_id'))

    op.drop_table('event_photos')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifications_user_id'))

    op.drop_table('notifications')
    with op.batch_alter_table('event_steps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_steps_event_id'))

    op.drop_table('event_steps')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_village_code'))
        batch_op.drop_index(batch_op.f('ix_events_town_code'))
        batch_op.drop_index('ix_events_status_created')
        batch_op.drop_index(batch_op.f('ix_events_reporter_id'))
        batch_op.drop_index('ix_events_region_code', postgresql_ops={'region_code': 'varchar_pattern_ops'})
        batch_op.drop_index('ix_events_next_check')
        batch_op.drop_index(batch_op.f('ix_events_channel'))
        batch_op.drop_index(batch_op.f('ix_events_category_code'))
        batch_op.drop_index(batch_op.f('ix_events_assigned_org_id'))

    op.drop_table('events')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_pending')

    op.drop_table('outbox')
    op.drop_table('event_counters')
