"""Names for the demo district: rural village names in the Ningbo style, grid and micro-grid names.

Village names are assembled from syllable lists (surname + 家, place elements such as 桥/溪/岙/浦/塘,
modifiers such as 上/下/前/后, pleasant characters such as 樟/梅/芦) with a seeded `random.Random`,
plus a small list of real-sounding full names. Mountain villages draw from hill-country elements
(岙、岭、坑、岩 …), plain villages from water-country ones (桥、浦、碶、漕 …). Duplicates are rejected,
so every name handed out by one `VillageNamer` is unique.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

__all__ = [
    "VillageNamer",
    "chinese_numeral",
    "grid_name",
    "microgrid_name",
]

# Common surnames around Ningbo (鄞州/海曙), used for 李家村, 王家桥村, 徐岙村 …
SURNAMES: tuple[str, ...] = tuple(
    "李王张陈周徐俞胡应林孙蒋邵董毛钱沈朱郑史夏卢翁竺鲍戴楼袁屠范童叶方金汪乐柴谢虞邬忻裘舒丁薛杨吴黄"
    "赵何严傅包冯马陆施顾曹缪贺石"
)

# Place elements of the water-network plain (桥、浦、碶、漕 …) and of the hills (岙、岭、坑 …).
PLAIN_ELEMENTS: tuple[str, ...] = tuple("桥浦塘漕碶港堰墩畈庄埠汇泾江湾埭闸洋渡河池")
MOUNTAIN_ELEMENTS: tuple[str, ...] = tuple("岙岭坑山溪岩坪坞峰岗潭源湾墩庄")

MODIFIERS: tuple[str, ...] = tuple("上下前后东西南北新大小中")
# Position words that follow an element: 桥头、岭下、溪口、岙里.
SUFFIXES: tuple[str, ...] = tuple("头下口里边")

PLAIN_PLEASANT: tuple[str, ...] = tuple("樟梅芦柳杏桃荷莲凤龙瑞祥丰安宁和永兴福秀清万金云青乐长民泰盛联光明华甬芝")
MOUNTAIN_PLEASANT: tuple[str, ...] = tuple("樟梅竹松柏杉枫茶杜云雪龙凤鹤石蜜茅晴翠白青虎金银桂栗苍")

# Real-sounding full names (without 村), tried now and then before the pattern generator.
PLAIN_CURATED: tuple[str, ...] = (
    "卖面桥", "蜃蛟", "新庄", "甬江", "芦港", "岐阳", "秀丰", "布政", "葑水港", "西洋港",
    "翁家桥", "山下庄", "万华", "宁锋", "民乐", "长乐", "古庵", "新联", "百梁桥", "大雷",
    "桃源", "仲夏", "联丰", "礼嘉桥", "薛家", "前虞", "后塘河", "石塘", "春华",
)
MOUNTAIN_CURATED: tuple[str, ...] = (
    "它山堰", "樟溪", "梅园", "五龙潭", "晴江岸", "周公宅", "悬慈", "光溪", "蜜岩", "茅镬",
    "细岭", "李家坑", "雪岙", "观顶", "杜岙", "凤岙", "建岙", "龙峰", "杖锡", "鹿亭",
    "上王岙", "金峨", "天井山", "大皎", "溪下", "岩坑", "里岙", "密坑",
)

_DIGITS = "零一二三四五六七八九"


def chinese_numeral(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 25 → 二十五 (1 ≤ n ≤ 99)."""
    if not 1 <= n <= 99:
        raise ValueError(f"chinese_numeral supports 1..99, got {n}")
    tens, ones = divmod(n, 10)
    if tens == 0:
        return _DIGITS[ones]
    head = "十" if tens == 1 else _DIGITS[tens] + "十"
    return head + (_DIGITS[ones] if ones else "")


def grid_name(village_name: str, index: int) -> str:
    """藕缆桥村, 1 → 藕缆桥村第一网格."""
    return f"{village_name}第{chinese_numeral(index)}网格"


def microgrid_name(grid_full_name: str, index: int) -> str:
    """藕缆桥村第一网格, 3 → 藕缆桥村第一网格3号微网格."""
    return f"{grid_full_name}{index}号微网格"


class VillageNamer:
    """Hands out unique, plausible village names (all ending in 村) from a seeded RNG."""

    def __init__(self, rng: random.Random, reserved: Iterable[str] = ()) -> None:
        self._rng = rng
        self._used: set[str] = set(reserved)
        self._curated = {
            "mountain": list(MOUNTAIN_CURATED),
            "plain": list(PLAIN_CURATED),
        }
        for pool in self._curated.values():
            rng.shuffle(pool)

    def reserve(self, name: str) -> None:
        """Mark a fixed name (e.g. 藕缆桥村) as taken so the generator never repeats it."""
        self._used.add(name)

    def is_used(self, name: str) -> bool:
        return name in self._used

    def name(self, village_type: str) -> str:
        """A new unique name; village_type is "mountain", "suburban" or "urban"."""
        terrain = "mountain" if village_type == "mountain" else "plain"
        rng = self._rng
        curated = self._curated[terrain]
        if curated and rng.random() < 0.2:
            while curated:
                candidate = curated.pop() + "村"
                if candidate not in self._used:
                    self._used.add(candidate)
                    return candidate
        for _ in range(10_000):
            candidate = self._pattern(terrain) + "村"
            if candidate not in self._used and len(set(candidate)) == len(candidate):
                self._used.add(candidate)
                return candidate
        raise RuntimeError("ran out of village names")  # pragma: no cover - 10^5+ combinations

    def _pattern(self, terrain: str) -> str:
        rng = self._rng
        if terrain == "mountain":
            elements, pleasant = MOUNTAIN_ELEMENTS, MOUNTAIN_PLEASANT
        else:
            elements, pleasant = PLAIN_ELEMENTS, PLAIN_PLEASANT
        kind = rng.choices(
            ("surname_jia", "surname_jia_element", "surname_element", "modifier_element",
             "element_suffix", "pleasant_element", "modifier_pleasant_element"),
            weights=(12, 22, 10, 16, 8, 24, 8),
        )[0]
        e = rng.choice(elements)
        if kind == "surname_jia":
            return rng.choice(SURNAMES) + "家"
        if kind == "surname_jia_element":
            return rng.choice(SURNAMES) + "家" + e
        if kind == "surname_element":
            return rng.choice(SURNAMES) + e
        if kind == "modifier_element":
            return rng.choice(MODIFIERS) + e
        if kind == "element_suffix":
            return e + rng.choice(SUFFIXES)
        if kind == "pleasant_element":
            return rng.choice(pleasant) + e
        return rng.choice(MODIFIERS) + rng.choice(pleasant) + e
