"""organizations extended (level, point, address, contacts, villages served); 1+X alliances and
pairings with membership history; resource, need and project lists

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

ORG_COLUMNS = ('level', 'lon', 'lat', 'address', 'description', 'updated_at')


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    other = target.split('.')[0]
    return sa.ForeignKeyConstraint([column], [target], name=op.f(f'fk_{table}_{column}_{other}'), ondelete=ondelete)


def _indexes(table: str, *columns: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        for column in columns:
            batch_op.create_index(batch_op.f(f'ix_{table}_{column}'), [column], unique=False)


def upgrade() -> None:
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('level', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('lon', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('lat', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('address', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('description', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))

    op.create_table('org_contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=64), nullable=True),
    sa.Column('phone_encrypted', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    _fk('org_contacts', 'org_id', 'organizations.id', 'CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_org_contacts'))
    )
    _indexes('org_contacts', 'org_id')

    op.create_table('org_villages',
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    _fk('org_villages', 'org_id', 'organizations.id', 'CASCADE'),
    _fk('org_villages', 'region_id', 'regions.id', 'RESTRICT'),
    sa.PrimaryKeyConstraint('org_id', 'region_id', name=op.f('pk_org_villages'))
    )
    _indexes('org_villages', 'region_id')

    op.create_table('alliances',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('lead_org_id', sa.Integer(), nullable=True),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('charter', sa.Text(), nullable=True),
    sa.Column('started_on', sa.Date(), nullable=True),
    sa.Column('ended_on', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    _fk('alliances', 'lead_org_id', 'organizations.id', 'RESTRICT'),
    _fk('alliances', 'region_id', 'regions.id', 'RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alliances')),
    sa.UniqueConstraint('code', name=op.f('uq_alliances_code'))
    )
    _indexes('alliances', 'kind', 'lead_org_id', 'region_id', 'status')

    op.create_table('alliance_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alliance_id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('joined_on', sa.Date(), nullable=False),
    sa.Column('left_on', sa.Date(), nullable=True),
    sa.Column('role', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    _fk('alliance_members', 'alliance_id', 'alliances.id', 'CASCADE'),
    _fk('alliance_members', 'org_id', 'organizations.id', 'RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alliance_members'))
    )
    _indexes('alliance_members', 'alliance_id', 'org_id')
    with op.batch_alter_table('alliance_members', schema=None) as batch_op:
        batch_op.create_index('uq_alliance_members_open', ['alliance_id', 'org_id'], unique=True,
                              sqlite_where=sa.text('left_on IS NULL'), postgresql_where=sa.text('left_on IS NULL'))

    op.create_table('alliance_villages',
    sa.Column('alliance_id', sa.Integer(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=False),
    _fk('alliance_villages', 'alliance_id', 'alliances.id', 'CASCADE'),
    _fk('alliance_villages', 'region_id', 'regions.id', 'RESTRICT'),
    sa.PrimaryKeyConstraint('alliance_id', 'region_id', name=op.f('pk_alliance_villages'))
    )
    _indexes('alliance_villages', 'region_id')

    op.create_table('resources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('unit', sa.String(length=16), nullable=False),
    sa.Column('available_from', sa.Date(), nullable=True),
    sa.Column('available_until', sa.Date(), nullable=True),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    _fk('resources', 'org_id', 'organizations.id', 'RESTRICT'),
    _fk('resources', 'region_id', 'regions.id', 'RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_resources'))
    )
    _indexes('resources', 'org_id', 'kind', 'region_id', 'status')

    op.create_table('needs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('requester', sa.String(length=12), nullable=False),
    sa.Column('group_name', sa.String(length=64), nullable=True),
    sa.Column('region_id', sa.Integer(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=True),
    sa.Column('urgency', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('matched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('met_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    _fk('needs', 'region_id', 'regions.id', 'RESTRICT'),
    _fk('needs', 'event_id', 'events.id', 'RESTRICT'),
    _fk('needs', 'created_by', 'users.id', 'SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_needs')),
    sa.UniqueConstraint('event_id', name=op.f('uq_needs_event_id'))
    )
    _indexes('needs', 'kind', 'region_id', 'status', 'raised_at')

    op.create_table('projects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('need_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('owner_org_id', sa.Integer(), nullable=False),
    sa.Column('owner_name', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('confirmed_by', sa.Integer(), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_on', sa.Date(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.Text(), nullable=True),
    sa.Column('beneficiaries', sa.Integer(), nullable=True),
    sa.Column('beneficiaries_note', sa.String(length=200), nullable=True),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    _fk('projects', 'need_id', 'needs.id', 'RESTRICT'),
    _fk('projects', 'owner_org_id', 'organizations.id', 'RESTRICT'),
    _fk('projects', 'confirmed_by', 'users.id', 'SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_projects'))
    )
    _indexes('projects', 'need_id', 'owner_org_id', 'status')

    op.create_table('project_resources',
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('resource_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    _fk('project_resources', 'project_id', 'projects.id', 'CASCADE'),
    _fk('project_resources', 'resource_id', 'resources.id', 'RESTRICT'),
    sa.PrimaryKeyConstraint('project_id', 'resource_id', name=op.f('pk_project_resources'))
    )
    _indexes('project_resources', 'resource_id')

    op.create_table('project_milestones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('done_on', sa.Date(), nullable=True),
    _fk('project_milestones', 'project_id', 'projects.id', 'CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_milestones'))
    )
    _indexes('project_milestones', 'project_id')

    op.create_table('project_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('author_name', sa.String(length=100), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('progress', sa.Integer(), nullable=True),
    _fk('project_notes', 'project_id', 'projects.id', 'CASCADE'),
    _fk('project_notes', 'author_id', 'users.id', 'SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_notes'))
    )
    _indexes('project_notes', 'project_id')


def downgrade() -> None:
    # Dropping a table drops its indexes; children first.
    for table in ('project_notes', 'project_milestones', 'project_resources', 'projects', 'needs', 'resources',
                  'alliance_villages', 'alliance_members', 'alliances', 'org_villages', 'org_contacts'):
        op.drop_table(table)
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        for column in reversed(ORG_COLUMNS):
            batch_op.drop_column(column)
