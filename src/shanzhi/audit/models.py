"""The audit table: one row per recorded act, linked into a hash chain by ``seq``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shanzhi.db import Base


class AuditEntry(Base):
    __tablename__ = "audit_entries"
    # Scoped reads are prefix matches on region_code; PostgreSQL needs pattern ops for LIKE 'x%'.
    __table_args__ = (
        Index("ix_audit_entries_region_code", "region_code",
              postgresql_ops={"region_code": "varchar_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Gapless 1, 2, 3… assigned under the chain lock, so a deleted row shows as a gap.
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # No foreign key: the trail must outlive (and never block deleting) the accounts it names.
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_name: Mapped[str | None] = mapped_column(String(100))
    ip: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)  # e.g. "auth.login"
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(10))  # allowed | denied | failed
    # Canonical JSON of {"after", "before", "detail"}: exactly the text the hash covers.
    summary: Mapped[str] = mapped_column(Text)
    # The region the target lies in, so audit reads can be scoped like everything else.
    region_code: Mapped[str | None] = mapped_column(String(18))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"<AuditEntry {self.seq} {self.action} {self.outcome}>"
