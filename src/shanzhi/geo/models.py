"""The region table: one row per node of district → town → village → grid → micro-grid."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from shanzhi.db import Base, utcnow


class Region(Base):
    __tablename__ = "regions"
    # Subtree queries are prefix matches on the code; PostgreSQL needs pattern ops for LIKE 'x%'.
    __table_args__ = (
        Index("ix_regions_code_prefix", "code", postgresql_ops={"code": "varchar_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(18), unique=True)
    level: Mapped[str] = mapped_column(String(10), index=True)
    name: Mapped[str] = mapped_column(String(100))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("regions.id", ondelete="RESTRICT"), index=True
    )
    # WGS84 polygon or multipolygon as WKB; shapely reads it back without parsing text.
    geometry_wkb: Mapped[bytes] = mapped_column(LargeBinary)
    centroid_lon: Mapped[float] = mapped_column(Float)
    centroid_lat: Mapped[float] = mapped_column(Float)
    area_km2: Mapped[float] = mapped_column(Float)
    # Bounding box, for viewport queries without decoding polygons.
    min_lon: Mapped[float] = mapped_column(Float)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    # Villages only: 城中村 / 城郊村 / 山区村 (as keys urban / suburban / mountain).
    village_type: Mapped[str | None] = mapped_column(String(12))
    households: Mapped[int | None] = mapped_column(Integer)
    population: Mapped[int | None] = mapped_column(Integer)  # 户籍人口 registered residents
    floating_population: Mapped[int | None] = mapped_column(Integer)  # 流动人口
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    def __repr__(self) -> str:
        return f"<Region {self.level} {self.code} {self.name}>"
