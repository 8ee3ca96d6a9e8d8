"""Identity document numbers and phone numbers: normalize and validate.

Resident ID cards, and the residence permits and foreign permanent residence cards built on the
same scheme, follow GB 11643-1999:

An ID number is 6 digits of the issuing county, 8 of the birth date, 3 of sequence (odd for
men) and a check character: Σ(digit × weight) mod 11 indexes "10X98765432". A typo almost always
breaks the checksum, so a wrong number is refused at the desk rather than stored.
Passports and travel permits are only checked for their shape. Each checker is keyed by a kind
(KINDS below); housing.toml's id_types say which kind checks which document.
Error messages never repeat the number in full: they end up in logs and screenshots.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from shanzhi.errors import InvalidInput

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
# First two digits: provinces and equivalents of GB/T 2260 (83: residence permits of Taiwan residents).
PROVINCES = frozenset({
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65",
    "71", "81", "82", "83",
})
_SHAPE = re.compile(r"^\d{17}[\dX]$")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")
# Full-width digits and letters, as typed on Chinese input methods.
_WIDE = str.maketrans("０１２３４５６７８９ｘＸ", "0123456789XX")


def check_char(first17: str) -> str:
    return CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, WEIGHTS)) % 11]


def mask_id(value: str | None) -> str | None:
    """3302**********1234: region prefix and last four, the rest hidden."""
    if not value:
        return None
    return value[:4] + "*" * (len(value) - 8) + value[-4:] if len(value) > 8 else "*" * len(value)


def normalize_id(raw: str) -> str:
    return re.sub(r"\s+", "", str(raw)).translate(_WIDE).upper()


@dataclass(frozen=True)
class _Scheme:
    """One document on the GB 11643 scheme: what it is called, which prefixes it may start with."""

    name: str
    name_zh: str
    prefixes: frozenset[str]
    prefix_zh: str  # what the prefix should be, for the refusal
    birth_date: bool = True  # whether characters 7–14 are a birth date


RESIDENT = _Scheme("An ID number", "身份证号", PROVINCES, "前两位不是有效的省级行政区划代码")
HMT_RESIDENCE = _Scheme("A residence permit number", "港澳台居民居住证号码", frozenset({"81", "82", "83"}),
                        "应以 81（香港）、82（澳门）或 83（台湾）开头")
# The 2023 card: 9, issuing province, nationality code, birth date, sequence, check character.
FOREIGN_PERMANENT = _Scheme("A permanent residence ID number", "外国人永久居留身份证号码", frozenset({"9"}),
                            "应以 9 开头", birth_date=False)


def _gb11643(raw: str, scheme: _Scheme) -> str:
    value = normalize_id(raw)
    shown = mask_id(value) if len(value) == 18 else f"{len(value)} 位"
    if not _SHAPE.match(value):
        raise InvalidInput(
            f"{scheme.name} has 18 characters: 17 digits and a final digit or X",
            f"{scheme.name_zh}应为 18 位：前 17 位数字，末位为数字或 X（收到 {shown}）",
            code="invalid_id_number",
        )
    if not value.startswith(tuple(scheme.prefixes)):
        raise InvalidInput(f"{scheme.name} does not start with a valid prefix",
                           f"{scheme.name_zh} {shown} {scheme.prefix_zh}", code="invalid_id_number")
    if scheme.birth_date:
        try:
            born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
        except ValueError:
            born = None
        if born is None or born.year < 1900 or born > date.today():
            raise InvalidInput(f"{scheme.name}'s birth date is not a valid date",
                               f"{scheme.name_zh} {shown} 中的出生日期无效", code="invalid_id_number")
    if check_char(value[:17]) != value[17]:
        raise InvalidInput(
            f"{scheme.name}'s check digit is wrong (GB 11643): check it for a typo",
            f"{scheme.name_zh} {shown} 校验码错误（GB 11643），请核对是否录错",
            code="invalid_id_checksum",
        )
    return value


def validate_id(raw: str) -> str:
    """The normalized ID number, or InvalidInput saying which check failed."""
    return _gb11643(raw, RESIDENT)


def validate_hmt_residence(raw: str) -> str:
    return _gb11643(raw, HMT_RESIDENCE)


_FOREIGN_2004 = re.compile(r"^[A-Z]{3}\d{12}$")  # before 2023: nationality letters, then 12 digits


def validate_foreign_permanent(raw: str) -> str:
    value = normalize_document(raw)
    if _FOREIGN_2004.match(value):
        return value
    if len(value) != 18:
        raise InvalidInput(
            "A permanent residence ID number has 18 characters (from 2023) or 3 letters and 12 digits",
            f"外国人永久居留身份证号码应为 18 位（9 开头），或旧版 15 位（3 个字母加 12 位数字）（收到 {len(value)} 位）",
            code="invalid_id_number",
        )
    return _gb11643(value, FOREIGN_PERMANENT)


def mask_document(value: str | None) -> str | None:
    """E*****678 / H******7890: a passport's or permit's leading letters and last 3–4, never
    more than half of it."""
    if not value:
        return None
    n, keep = len(value), len(value) // 2
    letters = len(value) - len(value.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    head = min(letters, 2, keep)
    tail = min(4 if n >= 10 else 3, keep - head)
    return value[:head] + "*" * (n - head - tail) + value[n - tail:]


def normalize_document(raw: str) -> str:
    # NFKC folds full-width letters and digits (Chinese input methods) to ASCII.
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(raw))).upper()


def _shaped(pattern: str, name: str, name_zh: str, shape: str, shape_zh: str) -> Callable[[str], str]:
    """A checker for a document whose number has a fixed shape but no check character."""
    regex = re.compile(pattern)

    def validate(raw: str) -> str:
        value = normalize_document(raw)
        if not regex.match(value):
            raise InvalidInput(f"{name} should be {shape}",
                               f"{name_zh}应为{shape_zh}（收到 {mask_document(value) or '空'}，共 {len(value)} 位）",
                               code="invalid_id_number")
        return value

    return validate


validate_passport = _shaped(r"^[A-Z0-9]{5,20}$", "A passport number", "护照号码", "5–20 letters or digits",
                            " 5–20 位字母或数字")
validate_hk_macau_permit = _shaped(r"^[HM](\d{8}|\d{10})$", "A Mainland Travel Permit for HK/Macao residents",
                                   "港澳居民来往内地通行证号码", "H or M and 8 or 10 digits",
                                   " H 或 M 加 8 位或 10 位数字")
validate_taiwan_permit = _shaped(r"^\d{8}$", "A Mainland Travel Permit for Taiwan residents",
                                 "台湾居民来往大陆通行证号码", "8 digits", " 8 位数字")


@dataclass(frozen=True)
class Kind:
    """How a kind of document number is checked and how it is shown masked."""

    validate: Callable[[str], str]
    mask: Callable[[str | None], str | None]


# The checkers housing.toml's id_types may name.
KINDS: dict[str, Kind] = {
    "gb11643": Kind(validate_id, mask_id),
    "gb11643_hmt": Kind(validate_hmt_residence, mask_id),
    "foreign_permanent": Kind(validate_foreign_permanent, mask_id),
    "passport": Kind(validate_passport, mask_document),
    "hk_macau_permit": Kind(validate_hk_macau_permit, mask_document),
    "taiwan_permit": Kind(validate_taiwan_permit, mask_document),
}


def normalize_phone(raw: str) -> str:
    value = re.sub(r"[\s()（）]+", "", str(raw)).translate(_WIDE)
    return value.removeprefix("+86").removeprefix("0086")


def validate_phone(raw: str) -> str:
    value = normalize_phone(raw)
    if _MOBILE.match(value) or _LANDLINE.match(value):
        return value
    raise InvalidInput("Not a mainland mobile (11 digits) or landline number",
                       "电话号码格式不正确（手机 11 位，或区号-座机号）", code="invalid_phone")
