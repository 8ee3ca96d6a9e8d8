"""Events and what hangs off them: the timeline, photos, inbox notifications, the webhook outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
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

# Statuses from which an event can still move; the others are final.
OPEN_STATUSES = ("reported", "accepted", "dispatched", "in_progress", "resolved", "verified")
FINAL_STATUSES = ("closed", "rejected", "merged")


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_region_code", "region_code", postgresql_ops={"region_code": "varchar_pattern_ops"}),
        Index("ix_events_status_created", "status", "created_at"),
        # The worker's sweep: open events whose next check is due.
        Index("ix_events_next_check", "next_check_at"),
        # Duplicate lookups: same category within a time window and a box around the point.
        Index("ix_events_category_created_point", "category_code", "created_at", "lon", "lat"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # HS-GL-20261127-0042
    tracking_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of the short secret
    text: Mapped[str] = mapped_column(Text)
    category_code: Mapped[str | None] = mapped_column(String(4), index=True)
    category_source: Mapped[str] = mapped_column(String(12))  # chosen | suggested | unknown | corrected
    urgency: Mapped[str] = mapped_column(String(8), default="normal")  # normal | urgent
    channel: Mapped[str] = mapped_column(String(16), index=True)
    # Where: a WGS84 point (when given) and the located chain, stored for scoped queries.
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(200))
    region_code: Mapped[str] = mapped_column(String(18))  # the deepest located region
    town_code: Mapped[str | None] = mapped_column(String(9), index=True)
    village_code: Mapped[str | None] = mapped_column(String(12), index=True)
    # Who: a signed-in user, or an anonymous resident's optional name and (encrypted) phone.
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    reporter_name: Mapped[str | None] = mapped_column(String(64))
    reporter_phone_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Where it is in the loop, and with whom.
    status: Mapped[str] = mapped_column(String(16), default="reported")
    tier: Mapped[str | None] = mapped_column(String(10))
    assigned_org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="RESTRICT"), index=True)
    # What the policy proposed, and whether the dispatcher overrode it (training signal).
    proposed_tier: Mapped[str | None] = mapped_column(String(10))
    proposed_org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id", ondelete="RESTRICT"))
    routing_overridden: Mapped[bool] = mapped_column(Boolean, default=False)
    policy_version: Mapped[str | None] = mapped_column(String(40))
    # Deadlines: the time limit in force, when the clock started, yellow and red marks.
    limit_amount: Mapped[float | None] = mapped_column(Float)
    limit_unit: Mapped[str | None] = mapped_column(String(16))
    clock_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    yellow_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deadline_state: Mapped[str] = mapped_column(String(8), default="none")  # none | normal | yellow | red
    next_check_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    escalations: Mapped[int] = mapped_column(Integer, default=0)
    reworks: Mapped[int] = mapped_column(Integer, default=0)
    extensions: Mapped[int] = mapped_column(Integer, default=0)
    pending_extension: Mapped[float | None] = mapped_column(Float)  # requested extra, in the limit's unit
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="RESTRICT"))
    result_text: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(String(500))
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Concurrent edits: the UPDATE says WHERE version = the one read; a lost race raises.
    __mapper_args__ = {"version_id_col": version}
    # A retried submission with the same key returns the first event, never a second one.
    idempotency_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    request_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_on_time: Mapped[bool | None] = mapped_column(Boolean)
    closed_tier: Mapped[str | None] = mapped_column(String(10))  # the tier that closed it (containment)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class EventStep(Base):
    """One step of an event's timeline. `public` steps are shown (redacted) to the reporter."""

    __tablename__ = "event_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_name: Mapped[str | None] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[str | None] = mapped_column(Text)  # JSON: unit, tier, deadline, …
    public: Mapped[bool] = mapped_column(Boolean, default=True)


class EventPhoto(Base):
    __tablename__ = "event_photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    step_id: Mapped[int | None] = mapped_column(ForeignKey("event_steps.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(8))  # report | result
    mime: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)  # re-encoded, EXIF stripped
    thumbnail: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Notification(Base):
    """A message in a user's inbox (deadline warnings, assignments, escalations)."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("user_id", "dedupe_key", name="uq_notifications_dedupe"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(String(500))
    # Makes the worker idempotent: the same warning is never delivered twice.
    dedupe_key: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OutboxMessage(Base):
    """Webhook deliveries, written in the same transaction as the change they announce."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "delivered_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(500))


class EventCounter(Base):
    """Per town and day, the last sequence number used in event codes (HS-GL-20261127-0042)."""

    __tablename__ = "event_counters"

    prefix: Mapped[str] = mapped_column(String(24), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)
