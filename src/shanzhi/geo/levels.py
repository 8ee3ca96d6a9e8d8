"""The five levels of the region tree and their codes.

Codes follow GB/T 2260 (district 6 digits), the statistical division codes (town 9, village 12),
and the digital urban management unit-grid code (grid 15 = village + 3); a micro-grid adds 3 more.
A child's code therefore starts with its parent's, which makes subtree queries a prefix match.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Level:
    name: str
    depth: int
    code_length: int
    label_zh: str


LEVELS: tuple[Level, ...] = (
    Level("district", 0, 6, "区"),
    Level("town", 1, 9, "镇/街道/乡"),
    Level("village", 2, 12, "村/社区"),
    Level("grid", 3, 15, "网格"),
    Level("microgrid", 4, 18, "微网格"),
)
BY_NAME: dict[str, Level] = {lv.name: lv for lv in LEVELS}
LEVEL_NAMES: tuple[str, ...] = tuple(lv.name for lv in LEVELS)

VILLAGE_TYPES: dict[str, str] = {
    "urban": "城中村",
    "suburban": "城郊村",
    "mountain": "山区村",
}


def child_level(level: str) -> Level | None:
    depth = BY_NAME[level].depth + 1
    return LEVELS[depth] if depth < len(LEVELS) else None


def parent_level(level: str) -> Level | None:
    depth = BY_NAME[level].depth - 1
    return LEVELS[depth] if depth >= 0 else None
