"""The people of the grids, their assignments over time, and their patrol and visit logs."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from shanzhi.db import Base, utcnow


class GridPerson(Base):
    """Someone who serves in the grids — staff or volunteer, with or without a user account.

    A user account is someone who signs in; a grid person is someone recorded. `user_id` links
    them when they are the same person (their patrols are then logged as them).
    """

    __tablename__ = "grid_people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    # Encrypted at rest (shanzhi/pii.py keyring); shown masked; every reveal is audited with its reason.
    phone_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Where the person belongs: managers of that subtree keep the record.
    home_region_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), unique=True)
    # E.g. the 新乡贤 organization a micro-grid leader comes from, or the mediation committee.
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="RESTRICT"), index=True)
    # Bumped on every change so concurrent edits are caught.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class GridAssignment(Base):
    """A role held at a region from one date to another. Ending one sets `end_date`; rows stay."""

    __tablename__ = "grid_assignments"
    __table_args__ = (
        # Coverage and rosters: the current holders of a role at a region.
        Index("ix_grid_assignments_current", "region_id", "role", "end_date"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("grid_people.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)  # None while current
    end_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PatrolLog(Base):
    """One patrol or household visit: who, where, when, what was found. Append-only.

    Its place is stored like an event's (the point and the located chain's codes) so scoped
    queries are prefix matches. A finding turned into an event keeps the event's id here.
    """

    __tablename__ = "patrol_logs"
    __table_args__ = (
        Index("ix_patrol_logs_region_code", "region_code", postgresql_ops={"region_code": "varchar_pattern_ops"}),
        Index("ix_patrol_logs_person_at", "person_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("grid_people.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(16))  # patrol | visit (policy)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    lon: Mapped[float | None] = mapped_column(Float)  # WGS84, when given as a point
    lat: Mapped[float | None] = mapped_column(Float)
    region_code: Mapped[str] = mapped_column(String(18))  # the deepest located region
    town_code: Mapped[str | None] = mapped_column(String(9))
    village_code: Mapped[str | None] = mapped_column(String(12), index=True)
    text: Mapped[str] = mapped_column(Text)
    category_code: Mapped[str | None] = mapped_column(String(4))  # an event catalog category
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="RESTRICT"), index=True)
    logged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # "<user id>:<client key>": a phone retrying a post on a bad network gets its first log back.
    idempotency_key: Mapped[str | None] = mapped_column(String(100), unique=True)
