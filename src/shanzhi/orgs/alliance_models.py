"""1+X alliances and pairings: one arrangement table, members with their history, villages covered.

A pairing (结对) is an arrangement of kind `pairing` with one member and one village; the rules
that tell the kinds apart (who may lead, how many members and villages) are policy data.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from shanzhi.db import Base, utcnow


class Alliance(Base):
    __tablename__ = "alliances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)  # LJ-330203105-3, JD-330203105201-1
    kind: Mapped[str] = mapped_column(String(16), index=True)  # alliance | pairing
    name: Mapped[str] = mapped_column(String(120))
    # The "1": a town or village party organization (none for a pairing).
    lead_org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="RESTRICT"), index=True)
    # Where it sits: the lead's region, or the village of a pairing (scopes who manages it).
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"), index=True)
    charter: Mapped[str | None] = mapped_column(Text)
    started_on: Mapped[date | None] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), onupdate=utcnow)


class AllianceMember(Base):
    """One spell of membership. Leaving sets `left_on`; rejoining adds a new row, so history stays."""

    __tablename__ = "alliance_members"
    __table_args__ = (
        # At most one open spell per member and alliance, whoever races to add it.
        Index("uq_alliance_members_open", "alliance_id", "org_id", unique=True,
              sqlite_where=text("left_on IS NULL"), postgresql_where=text("left_on IS NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alliance_id: Mapped[int] = mapped_column(ForeignKey("alliances.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="RESTRICT"), index=True)
    joined_on: Mapped[date] = mapped_column(Date)
    left_on: Mapped[date | None] = mapped_column(Date)
    role: Mapped[str | None] = mapped_column(String(64))  # what the unit takes on, e.g. 共建医疗服务
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AllianceVillage(Base):
    __tablename__ = "alliance_villages"

    alliance_id: Mapped[int] = mapped_column(ForeignKey("alliances.id", ondelete="CASCADE"), primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"), primary_key=True,
                                           index=True)
