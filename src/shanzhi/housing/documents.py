"""Identity documents (证件): the types a person may be registered with (housing.toml id_types)
and, for one type, how its number is checked, shown masked and digested for exact lookup.

The services name a type and call these; which checker applies is the policy's `kind`, so a new
document is a policy entry (and, if its shape is new, one checker in idcard.py KINDS).
"""

from __future__ import annotations

from shanzhi.errors import InvalidInput
from shanzhi.housing.idcard import KINDS, Kind, mask_document
from shanzhi.housing.policy import DEFAULT_ID_TYPE, IdType, housing_policy

__all__ = ["DEFAULT_ID_TYPE", "check_type", "digest_value", "label", "mask", "type_for", "validate"]


def _spec(id_type: str) -> IdType:
    types = housing_policy().id_types
    if id_type not in types:
        choices = "、".join(f"{k}（{t.label}）" for k, t in types.items())
        raise InvalidInput(f"Unknown id_type {id_type!r}; use one of {', '.join(types)}",
                           f"证件类型「{id_type}」无效，应为：{choices}", code="invalid_id_type")
    return types[id_type]


def _kind(id_type: str) -> Kind:
    return KINDS[_spec(id_type).kind]


def check_type(id_type: str | None) -> str:
    """The type's key (the default when none is given), or InvalidInput."""
    key = (id_type or "").strip() or DEFAULT_ID_TYPE
    _spec(key)
    return key


def validate(id_type: str, raw: str) -> str:
    """The normalized number, or InvalidInput from the type's checker (never echoing it whole)."""
    return _kind(id_type).validate(raw)


def mask(id_type: str | None, value: str | None) -> str | None:
    # A stored type a district has since dropped from its policy still shows, masked the stricter way.
    spec = housing_policy().id_types.get(id_type or DEFAULT_ID_TYPE)
    return KINDS[spec.kind].mask(value) if spec else mask_document(value)


def label(id_type: str | None) -> str | None:
    if id_type is None:
        return None
    spec = housing_policy().id_types.get(id_type)
    return spec.label if spec else id_type


def digest_value(id_type: str, number: str) -> str:
    """What the keyed digest is taken of. Resident IDs keep the bare number, so rows sealed
    before types existed still match; any other type is prefixed with its key, so a passport
    number can never collide with an ID number (or another document's number)."""
    return number if id_type == DEFAULT_ID_TYPE else f"{id_type}:{number}"


def type_for(text: str) -> str | None:
    """A type's key from its key or its Chinese label (spreadsheets); None if neither."""
    types = housing_policy().id_types
    text = text.strip()
    if text in types:
        return text
    return next((k for k, t in types.items() if t.label == text), None)
