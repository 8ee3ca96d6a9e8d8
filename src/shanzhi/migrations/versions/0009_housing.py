"""housing registry: buildings, units, households, people (encrypted ID numbers and phones with
keyed digests), residence registrations, rental-safety inspections, findings and photos

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

TABLES = ('housing_people', 'housing_buildings', 'housing_units', 'housing_households', 'housing_inspections',
          'housing_registrations', 'housing_findings', 'housing_inspection_photos')
# people ⇄ units ⇄ buildings refer to each other: these two keys are added once all tables exist.
LATE_KEYS = (('household_id', 'housing_households'), ('unit_id', 'housing_units'))


def upgrade() -> None:
    op.create_table('housing_people',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=True),
    sa.Column('id_number_encrypted', sa.LargeBinary(), nullable=True),
    sa.Column('id_number_digest', sa.String(length=64), nullable=True),
    sa.Column('phone_encrypted', sa.LargeBinary(), nullable=True),
    sa.Column('phone_digest', sa.String(length=64), nullable=True),
    sa.Column('pii_key', sa.String(length=16), nullable=True),
    sa.Column('registered_address', sa.String(length=200), nullable=True),
    sa.Column('is_local', sa.Boolean(), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=True),
    sa.Column('relation', sa.String(length=12), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('region_code', sa.String(length=18), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('purged_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_housing_people_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_housing_people'))
    )
    op.create_index(op.f('ix_housing_people_household_id'), 'housing_people', ['household_id'], unique=False)
    op.create_index(op.f('ix_housing_people_id_number_digest'), 'housing_people', ['id_number_digest'], unique=False)
    op.create_index(op.f('ix_housing_people_phone_digest'), 'housing_people', ['phone_digest'], unique=False)
    op.create_index(op.f('ix_housing_people_pii_key'), 'housing_people', ['pii_key'], unique=False)
    op.create_index('ix_housing_people_region_code', 'housing_people', ['region_code'], unique=False, postgresql_ops={'region_code': 'varchar_pattern_ops'})
    op.create_index(op.f('ix_housing_people_unit_id'), 'housing_people', ['unit_id'], unique=False)
    op.create_table('housing_buildings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=True),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('region_code', sa.String(length=18), nullable=False),
    sa.Column('use', sa.String(length=16), nullable=False),
    sa.Column('floors', sa.Integer(), nullable=True),
    sa.Column('construction', sa.String(length=24), nullable=True),
    sa.Column('owner_person_id', sa.Integer(), nullable=True),
    sa.Column('owner_org_id', sa.Integer(), nullable=True),
    sa.Column('manager_person_id', sa.Integer(), nullable=True),
    sa.Column('manager_org_id', sa.Integer(), nullable=True),
    sa.Column('manager_duties', sa.JSON(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_housing_buildings_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['manager_org_id'], ['organizations.id'], name=op.f('fk_housing_buildings_manager_org_id_organizations'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['manager_person_id'], ['housing_people.id'], name=op.f('fk_housing_buildings_manager_person_id_housing_people'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['owner_org_id'], ['organizations.id'], name=op.f('fk_housing_buildings_owner_org_id_organizations'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['owner_person_id'], ['housing_people.id'], name=op.f('fk_housing_buildings_owner_person_id_housing_people'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_housing_buildings')),
    sa.UniqueConstraint('code', name=op.f('uq_housing_buildings_code'))
    )
    op.create_index('ix_housing_buildings_point', 'housing_buildings', ['lon', 'lat'], unique=False)
    op.create_index('ix_housing_buildings_region_code', 'housing_buildings', ['region_code'], unique=False, postgresql_ops={'region_code': 'varchar_pattern_ops'})
    op.create_table('housing_units',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('floor', sa.Integer(), nullable=True),
    sa.Column('area_m2', sa.Float(), nullable=True),
    sa.Column('rental_status', sa.String(length=16), nullable=False),
    sa.Column('landlord_person_id', sa.Integer(), nullable=True),
    sa.Column('landlord_org_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['building_id'], ['housing_buildings.id'], name=op.f('fk_housing_units_building_id_housing_buildings'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['landlord_org_id'], ['organizations.id'], name=op.f('fk_housing_units_landlord_org_id_organizations'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['landlord_person_id'], ['housing_people.id'], name=op.f('fk_housing_units_landlord_person_id_housing_people'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_housing_units')),
    sa.UniqueConstraint('building_id', 'number', name=op.f('uq_housing_units_building_id'))
    )
    op.create_index(op.f('ix_housing_units_building_id'), 'housing_units', ['building_id'], unique=False)
    op.create_table('housing_households',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('region_code', sa.String(length=18), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['unit_id'], ['housing_units.id'], name=op.f('fk_housing_households_unit_id_housing_units'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_housing_households'))
    )
    op.create_index(op.f('ix_housing_households_unit_id'), 'housing_households', ['unit_id'], unique=False)
    op.create_table('housing_inspections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('region_code', sa.String(length=18), nullable=False),
    sa.Column('inspector_id', sa.Integer(), nullable=True),
    sa.Column('inspector_name', sa.String(length=100), nullable=False),
    sa.Column('inspected_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('checklist_version', sa.String(length=40), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('occupants', sa.Integer(), nullable=True),
    sa.Column('reinspection_of_id', sa.Integer(), nullable=True),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['building_id'], ['housing_buildings.id'], name=op.f('fk_housing_inspections_building_id_housing_buildings'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['inspector_id'], ['users.id'], name=op.f('fk_housing_inspections_inspector_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reinspection_of_id'], ['housing_inspections.id'], name=op.f('fk_housing_inspections_reinspection_of_id_housing_inspections'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['unit_id'], ['housing_units.id'], name=op.f('fk_housing_inspections_unit_id_housing_units'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_housing_inspections'))
    )
    op.create_index(op.f('ix_housing_inspections_building_id'), 'housing_inspections', ['building_id'], unique=False)
    op.create_index('ix_housing_inspections_region_code', 'housing_inspections', ['region_code'], unique=False, postgresql_ops={'region_code': 'varchar_pattern_ops'})
    op.create_index(op.f('ix_housing_inspections_unit_id'), 'housing_inspections', ['unit_id'], unique=False)
    op.create_table('housing_registrations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=False),
    sa.Column('region_code', sa.String(length=18), nullable=False),
    sa.Column('purpose', sa.String(length=12), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('ended_on', sa.Date(), nullable=True),
    sa.Column('end_reason', sa.String(length=200), nullable=True),
    sa.Column('renewed_from_id', sa.Integer(), nullable=True),
    sa.Column('registered_by', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['building_id'], ['housing_buildings.id'], name=op.f('fk_housing_registrations_building_id_housing_buildings'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['person_id'], ['housing_people.id'], name=op.f('fk_housing_registrations_person_id_housing_people'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['registered_by'], ['users.id'], name=op.f('fk_housing_registrations_registered_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['renewed_from_id'], ['housing_registrations.id'], name=op.f('fk_housing_registrations_renewed_from_id_housing_registrations'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['unit_id'], ['housing_units.id'], name=op.f('fk_housing_registrations_unit_id_housing_units'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_housing_registrations'))
    )
    op.create_index(op.f('ix_housing_registrations_building_id'), 'housing_registrations', ['building_id'], unique=False)
    op.create_index(op.f('ix_housing_registrations_person_id'), 'housing_registrations', ['person_id'], unique=False)
    op.create_index('ix_housing_registrations_region_code', 'housing_registrations', ['region_code'], unique=False, postgresql_ops={'region_code': 'varchar_pattern_ops'})
    op.create_index('ix_housing_registrations_status_end', 'housing_registrations', ['status', 'end_date'], unique=False)
    op.create_index(op.f('ix_housing_registrations_unit_id'), 'housing_registrations', ['unit_id'], unique=False)
    op.create_table('housing_findings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('region_code', sa.String(length=18), nullable=False),
    sa.Column('item', sa.String(length=32), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['building_id'], ['housing_buildings.id'], name=op.f('fk_housing_findings_building_id_housing_buildings'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_housing_findings_event_id_events'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['inspection_id'], ['housing_inspections.id'], name=op.f('fk_housing_findings_inspection_id_housing_inspections'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['housing_inspections.id'], name=op.f('fk_housing_findings_resolved_by_id_housing_inspections'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['unit_id'], ['housing_units.id'], name=op.f('fk_housing_findings_unit_id_housing_units'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_housing_findings'))
    )
    op.create_index(op.f('ix_housing_findings_building_id'), 'housing_findings', ['building_id'], unique=False)
    op.create_index(op.f('ix_housing_findings_event_id'), 'housing_findings', ['event_id'], unique=False)
    op.create_index(op.f('ix_housing_findings_inspection_id'), 'housing_findings', ['inspection_id'], unique=False)
    op.create_index('ix_housing_findings_region_code', 'housing_findings', ['region_code'], unique=False, postgresql_ops={'region_code': 'varchar_pattern_ops'})
    op.create_index('ix_housing_findings_status_deadline', 'housing_findings', ['status', 'deadline'], unique=False)
    op.create_table('housing_inspection_photos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('item', sa.String(length=32), nullable=True),
    sa.Column('mime', sa.String(length=32), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('thumbnail', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['inspection_id'], ['housing_inspections.id'], name=op.f('fk_housing_inspection_photos_inspection_id_housing_inspections'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_housing_inspection_photos'))
    )
    op.create_index(op.f('ix_housing_inspection_photos_inspection_id'), 'housing_inspection_photos', ['inspection_id'], unique=False)

    with op.batch_alter_table('housing_people', schema=None) as batch_op:
        for column, target in LATE_KEYS:
            batch_op.create_foreign_key(batch_op.f(f'fk_housing_people_{column}_{target}'), target,
                                        [column], ['id'], ondelete='RESTRICT')


def downgrade() -> None:
    with op.batch_alter_table('housing_people', schema=None) as batch_op:
        for column, target in LATE_KEYS:
            batch_op.drop_constraint(batch_op.f(f'fk_housing_people_{column}_{target}'), type_='foreignkey')
    for table in reversed(TABLES):
        op.drop_table(table)
