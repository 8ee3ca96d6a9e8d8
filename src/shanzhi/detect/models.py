"""What detection keeps: dispatchers' category corrections (training data) and alerts for the inbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shanzhi.db import Base, utcnow


class CategoryCorrection(Base):
    """A dispatcher changed an event's category: the text and the right answer, for retraining."""

    __tablename__ = "category_corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    previous_code: Mapped[str | None] = mapped_column(String(4))
    previous_source: Mapped[str] = mapped_column(String(12))  # chosen | suggested | unknown | corrected
    chosen_code: Mapped[str] = mapped_column(String(4))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DetectAlert(Base):
    """A hotspot, a rising trend or a dispute risk, shown in the command center's inbox.

    `key` identifies the finding across scans (e.g. the category and the ~100 m cell of a
    hotspot), so a scan that finds it again updates the row instead of adding another.
    """

    __tablename__ = "detect_alerts"
    __table_args__ = (
        Index("ix_detect_alerts_region", "region_code", postgresql_ops={"region_code": "varchar_pattern_ops"}),
        Index("ix_detect_alerts_open", "dismissed_at", "updated_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # hotspot | trend | dispute_risk
    key: Mapped[str] = mapped_column(String(120), unique=True)
    region_code: Mapped[str] = mapped_column(String(18))
    category_code: Mapped[str | None] = mapped_column(String(4))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    score: Mapped[float] = mapped_column(Float)
    data: Mapped[str] = mapped_column(Text, default="{}")  # JSON: centroid, counts, related codes…
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    dismissed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dismissed_by: Mapped[int | None] = mapped_column(Integer)
