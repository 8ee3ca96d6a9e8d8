"""Readable event codes and tracking secrets.

A code reads district-town-date-sequence, e.g. HS-GL-20261127-0042 (海曙 古林, 27 Nov 2026, the
42nd of the day): the letters are the pinyin initials of the names, so people can say them on
the phone. The short secret lets a resident follow the event without an account.
"""

from __future__ import annotations

import secrets
import tomllib
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from pypinyin import Style, lazy_pinyin
from sqlalchemy.orm import Session

from shanzhi.accounts.crypto import sha256_hex
from shanzhi.db import upsert_increment
from shanzhi.events.models import EventCounter
from shanzhi.policy.loader import policy_path

SHANGHAI = ZoneInfo("Asia/Shanghai")
# No 0/O, 1/I/L: read aloud and typed from a phone screen.
SECRET_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
SECRET_LENGTH = 6
_SUFFIXES = ("街道", "区", "镇", "乡", "村", "社区")


@lru_cache(maxsize=4096)
def initials(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            name = name[: -len(suffix)]
            break
    letters = "".join(p[0] for p in lazy_pinyin(name, style=Style.FIRST_LETTER) if p and p[0].isalpha())
    return (letters.upper() or "X")[:4]


@lru_cache
def _letters() -> dict[str, str]:
    with policy_path("codes.toml").open("rb") as f:
        table = tomllib.load(f).get("letters", {})
    bad = [k for k, v in table.items() if not (k.isdigit() and v.isascii() and v.isalpha() and v.isupper())]
    if bad:
        raise ValueError(f"codes.toml: letters must be upper-case A–Z for region codes, not {bad}")
    return table


def letters(code: str, name: str) -> str:
    """The letters a region stands for in event codes: policy first, else pinyin initials."""
    return _letters().get(code) or initials(name)


def next_code(session: Session, *, district: tuple[str, str], town: tuple[str, str] | None, at: datetime) -> str:
    """The next code for this town and day; concurrent intakes never get the same number.

    `district` and `town` are (code, name) pairs.
    """
    day = at.astimezone(SHANGHAI).strftime("%Y%m%d")
    prefix = f"{letters(*district)}-{letters(*town) if town else 'QJ'}-{day}"
    n = upsert_increment(session, EventCounter.__table__, key={"prefix": prefix}, column="last")
    return f"{prefix}-{n:04d}"


def new_secret() -> str:
    return "".join(secrets.choice(SECRET_ALPHABET) for _ in range(SECRET_LENGTH))


def secret_hash(code: str, secret: str) -> str:
    return sha256_hex(f"{code}:{secret.strip().upper()}")



