"""API shapes for regions and locating."""

from __future__ import annotations

from pydantic import BaseModel


class RegionRefOut(BaseModel):
    code: str
    name: str
    level: str
    level_zh: str


class RegionOut(RegionRefOut):
    parent_code: str | None
    centroid: list[float]
    bbox: list[float]
    area_km2: float
    village_type: str | None = None
    village_type_zh: str | None = None
    households: int | None = None
    population: int | None = None
    floating_population: int | None = None


class RegionDetailOut(RegionOut):
    chain: list[RegionRefOut]
    children_count: int
    descendants: dict[str, int]


class RegionPage(BaseModel):
    items: list[RegionOut]
    total: int
    page: int
    size: int


class LocateOut(BaseModel):
    lon: float
    lat: float
    crs: str
    region: RegionRefOut
    chain: list[RegionRefOut]
