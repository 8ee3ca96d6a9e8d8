"""The housing registry: buildings and their units, the people who own, manage and live in them,
residence registrations (居住登记), and rental-safety inspections with their findings.

Personal data (ID numbers, phones) is stored only encrypted (shanzhi/pii.py), beside a keyed
digest for exact lookup and the id of the key (`pii_key`) that rotation moves rows off.
Nothing here is ever deleted: a tenancy ends, a finding is resolved, a person's personal fields
are purged after the retention period while the rows (and so the counts) remain.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from shanzhi.db import Base, utcnow


def _region_index(table: str) -> Index:
    # Scoped queries are prefix matches on region_code; PostgreSQL needs pattern ops for LIKE 'x%'.
    return Index(f"ix_{table}_region_code", "region_code", postgresql_ops={"region_code": "varchar_pattern_ops"})


class Building(Base):
    __tablename__ = "housing_buildings"
    __table_args__ = (_region_index("housing_buildings"), Index("ix_housing_buildings_point", "lon", "lat"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str | None] = mapped_column(String(32), unique=True)  # FW330203101215-000042, set on create
    address: Mapped[str] = mapped_column(String(200))
    lon: Mapped[float] = mapped_column(Float)  # WGS84
    lat: Mapped[float] = mapped_column(Float)
    region_code: Mapped[str] = mapped_column(String(18))  # the deepest located region
    use: Mapped[str] = mapped_column(String(16))  # housing.toml uses
    floors: Mapped[int | None] = mapped_column(Integer)
    construction: Mapped[str | None] = mapped_column(String(24))
    # Owner (产权人/房东) and the responsible manager (管理责任人): a person or an organization.
    owner_person_id: Mapped[int | None] = mapped_column(ForeignKey("housing_people.id", ondelete="RESTRICT"))
    owner_org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="RESTRICT"))
    manager_person_id: Mapped[int | None] = mapped_column(ForeignKey("housing_people.id", ondelete="RESTRICT"))
    manager_org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="RESTRICT"))
    manager_duties: Mapped[list[str]] = mapped_column(JSON, default=list)  # housing.toml manager_duties
    notes: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Unit(Base):
    """A room or flat (or shop, workshop) of a building: what is let and lived in."""

    __tablename__ = "housing_units"
    __table_args__ = (UniqueConstraint("building_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("housing_buildings.id", ondelete="RESTRICT"), index=True)
    number: Mapped[str] = mapped_column(String(20))  # 房号, e.g. 301
    kind: Mapped[str] = mapped_column(String(12))  # housing.toml unit_kinds
    floor: Mapped[int | None] = mapped_column(Integer)
    area_m2: Mapped[float | None] = mapped_column(Float)
    rental_status: Mapped[str] = mapped_column(String(16))  # housing.toml rental_statuses
    # A landlord of this unit other than the building's owner (a sublessor, 二房东).
    landlord_person_id: Mapped[int | None] = mapped_column(ForeignKey("housing_people.id", ondelete="RESTRICT"))
    landlord_org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="RESTRICT"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Household(Base):
    """People who live together as one household (户): registered (户籍户) or floating (流动户)."""

    __tablename__ = "housing_households"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))  # registered | floating
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("housing_units.id", ondelete="RESTRICT"), index=True)
    region_code: Mapped[str] = mapped_column(String(18))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Person(Base):
    """Someone recorded in the registry (a resident, tenant, owner or manager) — not an account."""

    __tablename__ = "housing_people"
    __table_args__ = (_region_index("housing_people"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(64))  # None once purged
    # Which document the ID number is of (housing.toml id_types); rows from before types are resident IDs.
    id_type: Mapped[str] = mapped_column(String(24), default="resident_id", server_default="resident_id")
    id_number_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    id_number_digest: Mapped[str | None] = mapped_column(String(64), index=True)
    phone_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_digest: Mapped[str | None] = mapped_column(String(64), index=True)
    pii_key: Mapped[str | None] = mapped_column(String(16), index=True)  # key of the encrypted fields
    registered_address: Mapped[str | None] = mapped_column(String(200))  # 户籍地址
    is_local: Mapped[bool] = mapped_column(Boolean, default=False)  # 户籍在本区 (not floating)
    # use_alter: people ⇄ units ⇄ buildings refer to each other; these two are added after the tables.
    household_id: Mapped[int | None] = mapped_column(
        ForeignKey("housing_households.id", ondelete="RESTRICT", use_alter=True), index=True)
    relation: Mapped[str | None] = mapped_column(String(12))  # to the household head
    # Actual residence: the unit they live in now, and its region (scopes who may see them).
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("housing_units.id", ondelete="RESTRICT", use_alter=True), index=True)
    region_code: Mapped[str | None] = mapped_column(String(18))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))  # same person's account
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Registration(Base):
    """A residence registration (居住登记) / tenancy: one person in one unit from start to end.

    Ended, never deleted; a renewal ends the old row as `renewed` and links the new one to it.
    """

    __tablename__ = "housing_registrations"
    __table_args__ = (_region_index("housing_registrations"),
                      Index("ix_housing_registrations_status_end", "status", "end_date"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("housing_people.id", ondelete="RESTRICT"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("housing_units.id", ondelete="RESTRICT"), index=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("housing_buildings.id", ondelete="RESTRICT"), index=True)
    region_code: Mapped[str] = mapped_column(String(18))  # the building's, when registered
    purpose: Mapped[str] = mapped_column(String(12))  # housing.toml purposes
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)  # the agreed end; None: open-ended
    status: Mapped[str] = mapped_column(String(10))  # active | ended | renewed
    ended_on: Mapped[date | None] = mapped_column(Date)
    end_reason: Mapped[str | None] = mapped_column(String(200))
    renewed_from_id: Mapped[int | None] = mapped_column(ForeignKey("housing_registrations.id", ondelete="RESTRICT"))
    registered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Inspection(Base):
    """A rental-safety inspection of a building, or of one unit, against the policy checklist."""

    __tablename__ = "housing_inspections"
    __table_args__ = (_region_index("housing_inspections"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("housing_buildings.id", ondelete="RESTRICT"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("housing_units.id", ondelete="RESTRICT"), index=True)
    region_code: Mapped[str] = mapped_column(String(18))
    inspector_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    inspector_name: Mapped[str] = mapped_column(String(100))
    inspected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    checklist_version: Mapped[str] = mapped_column(String(40))
    # {item key: {"ok": bool, "note": str}} for the items checked.
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    occupants: Mapped[int | None] = mapped_column(Integer)  # counted on site (units)
    reinspection_of_id: Mapped[int | None] = mapped_column(ForeignKey("housing_inspections.id", ondelete="RESTRICT"))
    passed: Mapped[bool] = mapped_column(Boolean)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Finding(Base):
    """A checklist item that failed: open until a re-inspection finds it put right."""

    __tablename__ = "housing_findings"
    __table_args__ = (_region_index("housing_findings"),
                      Index("ix_housing_findings_status_deadline", "status", "deadline"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("housing_inspections.id", ondelete="RESTRICT"), index=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("housing_buildings.id", ondelete="RESTRICT"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("housing_units.id", ondelete="RESTRICT"))
    region_code: Mapped[str] = mapped_column(String(18))
    item: Mapped[str] = mapped_column(String(32))  # inspection.toml item key
    note: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(10))  # open | resolved
    deadline: Mapped[date] = mapped_column(Date)  # rectification deadline
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="RESTRICT"), index=True)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("housing_inspections.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class InspectionPhoto(Base):
    """A photo taken at an inspection (re-encoded: no EXIF, so no GPS track or device)."""

    __tablename__ = "housing_inspection_photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("housing_inspections.id", ondelete="RESTRICT"),
                                               index=True)
    item: Mapped[str | None] = mapped_column(String(32))  # the checklist item it shows, if any
    mime: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    thumbnail: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
