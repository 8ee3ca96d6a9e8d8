"""grid people: people of the grids, their role assignments over time, patrol and visit logs

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('grid_people',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('phone_encrypted', sa.LargeBinary(), nullable=True),
    sa.Column('home_region_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('org_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['home_region_id'], ['regions.id'], name=op.f('fk_grid_people_home_region_id_regions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_grid_people_org_id_organizations'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_grid_people_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grid_people')),
    sa.UniqueConstraint('user_id', name=op.f('uq_grid_people_user_id'))
    )
    with op.batch_alter_table('grid_people', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grid_people_home_region_id'), ['home_region_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_grid_people_org_id'), ['org_id'], unique=False)

    op.create_table('grid_assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('end_reason', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['person_id'], ['grid_people.id'], name=op.f('fk_grid_assignments_person_id_grid_people'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], name=op.f('fk_grid_assignments_region_id_regions'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grid_assignments'))
    )
    with op.batch_alter_table('grid_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grid_assignments_person_id'), ['person_id'], unique=False)
        batch_op.create_index('ix_grid_assignments_current', ['region_id', 'role', 'end_date'], unique=False)

    op.create_table('patrol_logs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('region_code', sa.String(length=18), nullable=False),
    sa.Column('town_code', sa.String(length=9), nullable=True),
    sa.Column('village_code', sa.String(length=12), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('category_code', sa.String(length=4), nullable=True),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('logged_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_patrol_logs_event_id_events'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['logged_by'], ['users.id'], name=op.f('fk_patrol_logs_logged_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['person_id'], ['grid_people.id'], name=op.f('fk_patrol_logs_person_id_grid_people'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_logs'))
    )
    with op.batch_alter_table('patrol_logs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patrol_logs_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_patrol_logs_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_patrol_logs_village_code'), ['village_code'], unique=False)
        batch_op.create_index('ix_patrol_logs_person_at', ['person_id', 'at'], unique=False)
        batch_op.create_index('ix_patrol_logs_region_code', ['region_code'], unique=False,
                              postgresql_ops={'region_code': 'varchar_pattern_ops'})


def downgrade() -> None:
    with op.batch_alter_table('patrol_logs', schema=None) as batch_op:
        batch_op.drop_index('ix_patrol_logs_region_code', postgresql_ops={'region_code': 'varchar_pattern_ops'})
        batch_op.drop_index('ix_patrol_logs_person_at')
        batch_op.drop_index(batch_op.f('ix_patrol_logs_village_code'))
        batch_op.drop_index(batch_op.f('ix_patrol_logs_event_id'))
        batch_op.drop_index(batch_op.f('ix_patrol_logs_at'))

    op.drop_table('patrol_logs')
    with op.batch_alter_table('grid_assignments', schema=None) as batch_op:
        batch_op.drop_index('ix_grid_assignments_current')
        batch_op.drop_index(batch_op.f('ix_grid_assignments_person_id'))

    op.drop_table('grid_assignments')
    with op.batch_alter_table('grid_people', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grid_people_org_id'))
        batch_op.drop_index(batch_op.f('ix_grid_people_home_region_id'))

    op.drop_table('grid_people')
