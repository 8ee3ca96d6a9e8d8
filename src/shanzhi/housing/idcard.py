"""Citizen ID numbers (GB 11643-1999) and phone numbers: normalize and validate.

An ID number is 6 digits of the issuing county, 8 of the birth date, 3 of sequence (odd for
men) and a check character: Σ(digit × weight) mod 11 indexes "10X98765432". A typo almost always
breaks the checksum, so a wrong number is refused at the desk rather than stored.
Error messages never repeat the number in full: they end up in logs and screenshots.
"""

from __future__ import annotations

import re
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


def validate_id(raw: str) -> str:
    """The normalized ID number, or InvalidInput saying which check failed."""
    value = normalize_id(raw)
    shown = mask_id(value) if len(value) == 18 else f"{len(value)} 位"
    if not _SHAPE.match(value):
        raise InvalidInput(
            "An ID number has 18 characters: 17 digits and a final digit or X",
            f"身份证号应为 18 位：前 17 位数字，末位为数字或 X（收到 {shown}）",
            code="invalid_id_number",
        )
    if value[:2] not in PROVINCES:
        raise InvalidInput("The ID number does not start with a province code",
                           f"身份证号 {shown} 的前两位不是有效的省级行政区划代码", code="invalid_id_number")
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        born = None
    if born is None or born.year < 1900 or born > date.today():
        raise InvalidInput("The ID number's birth date is not a valid date",
                           f"身份证号 {shown} 中的出生日期无效", code="invalid_id_number")
    if check_char(value[:17]) != value[17]:
        raise InvalidInput(
            "The ID number's check digit is wrong (GB 11643): check it for a typo",
            f"身份证号 {shown} 校验码错误（GB 11643），请核对是否录错",
            code="invalid_id_checksum",
        )
    return value


def normalize_phone(raw: str) -> str:
    value = re.sub(r"[\s()（）]+", "", str(raw)).translate(_WIDE)
    return value.removeprefix("+86").removeprefix("0086")


def validate_phone(raw: str) -> str:
    value = normalize_phone(raw)
    if _MOBILE.match(value) or _LANDLINE.match(value):
        return value
    raise InvalidInput("Not a mainland mobile (11 digits) or landline number",
                       "电话号码格式不正确（手机 11 位，或区号-座机号）", code="invalid_phone")
