"""People in the registry: recorded once (matched by their document's type and number, or by
phone and name), their personal data sealed under the current key, shown masked, revealed only with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shanzhi import pii
from shanzhi.accounts.authz import Actor
from shanzhi.audit import service as audit
from shanzhi.errors import Conflict, InvalidInput
from shanzhi.housing import documents
from shanzhi.housing.idcard import validate_phone
from shanzhi.housing.models import Person
from shanzhi.housing.scope import (
    MANAGE,
    READ,
    REVEAL,
    bump,
    get_person,
    listable,
    record,
)

REVEALABLE = {"id_number": "证件号码", "phone": "手机号"}
MIN_REASON, MAX_REASON = 4, 200


@dataclass(frozen=True)
class PersonInput:
    name: str
    id_number: str | None = None
    phone: str | None = None
    registered_address: str | None = None  # 户籍地址
    is_local: bool = False  # 户籍在本区
    id_type: str | None = None  # housing.toml id_types; None: resident ID


@dataclass(frozen=True)
class Clean:
    name: str
    id_number: str | None
    phone: str | None
    registered_address: str | None
    is_local: bool
    id_type: str = documents.DEFAULT_ID_TYPE


def clean(data: PersonInput, *, id_required: bool) -> Clean:
    """Validated and normalized input, or InvalidInput naming the field."""
    name = (data.name or "").strip()
    if not 1 <= len(name) <= 64:
        raise InvalidInput("Name must be 1–64 characters", "姓名应为 1–64 个字符", code="invalid_name")
    id_type = documents.check_type(data.id_type)
    id_number = documents.validate(id_type, data.id_number) if data.id_number not in (None, "") else None
    if id_required and id_number is None:
        raise InvalidInput("An identity document number is required for a residence registration",
                           "居住登记须填写证件号码", code="id_number_required")
    phone = validate_phone(data.phone) if data.phone not in (None, "") else None
    address = (data.registered_address or "").strip() or None
    if address is not None and len(address) > 200:
        raise InvalidInput("Registered address is too long (max 200)", "户籍地址过长（最多 200 字）", code="too_long")
    return Clean(name, id_number, phone, address, bool(data.is_local), id_type)


def seal(person: Person, *, id_number: str | None, phone: str | None, key: pii.Key | None = None) -> None:
    """Encrypt both fields under one key (the current one unless given) with their digests; the ID
    number's digest is of the person's document type (`person.id_type`) with it."""
    k = key or pii.current_key()
    person.id_number_encrypted = pii.encrypt(id_number, k)
    person.id_number_digest = (pii.digest("id", documents.digest_value(person.id_type, id_number), k)
                               if id_number else None)
    person.phone_encrypted = pii.encrypt(phone, k)
    person.phone_digest = pii.digest("phone", phone, k) if phone else None
    person.pii_key = k.id if (id_number or phone) else None


def plain(person: Person, *, strict: bool = False) -> tuple[str | None, str | None]:
    """(ID number, phone) decrypted — for masking, for the few who may reveal, and (`strict`:
    a missing key raises rather than reading as a placeholder) for re-sealing on a change."""
    return (pii.decrypt(person.id_number_encrypted, strict=strict),
            pii.decrypt(person.phone_encrypted, strict=strict))


def _id_digests(id_type: str, id_number: str) -> list[str]:
    return pii.digests("id", documents.digest_value(id_type, id_number))


def find_by_id_number(session: Session, id_number: str,
                      id_type: str = documents.DEFAULT_ID_TYPE) -> Person | None:
    """The person holding this document (type and normalized number)."""
    return session.scalars(select(Person).where(Person.id_number_digest.in_(_id_digests(id_type, id_number)))
                           .order_by(Person.id).limit(1)).first()


def _match(session: Session, data: Clean) -> Person | None:
    if data.id_number:
        return find_by_id_number(session, data.id_number, data.id_type)
    if data.phone:
        # Without an ID number, the same phone and the same name are taken as the same person.
        return session.scalars(select(Person).where(Person.phone_digest.in_(pii.digests("phone", data.phone)),
                                                    Person.name == data.name).order_by(Person.id).limit(1)).first()
    return None


def upsert(session: Session, *, actor: Actor, data: Clean, region_code: str) -> tuple[Person, bool]:
    """The person these details identify, created or brought up to date; (person, created).

    An existing person keeps their identity; a new phone, name or address is written and the
    trail says which fields changed (never their values)."""
    person = _match(session, data)
    if person is None:
        person = Person(name=data.name, id_type=data.id_type, registered_address=data.registered_address,
                        is_local=data.is_local, region_code=region_code, version=1)
        seal(person, id_number=data.id_number, phone=data.phone)
        session.add(person)
        session.flush()
        return person, True
    old_id, old_phone = plain(person, strict=True)
    changed = [f for f, old, new in (("name", person.name, data.name), ("phone", old_phone, data.phone),
                                      ("registered_address", person.registered_address, data.registered_address))
               if new is not None and new != old]
    if person.purged_at is not None:
        changed.append("restored")  # someone whose data was purged came back: record them again
        person.purged_at = None
    if changed:
        person.name = data.name
        person.registered_address = data.registered_address or person.registered_address
        seal(person, id_number=data.id_number or old_id, phone=data.phone or old_phone)
        bump(person, None, "人员")
        session.flush()
        record(session, actor, "housing.person.update", None, person=person, detail={"changed": changed})
    return person, False


def update_person(session: Session, *, actor: Actor, person_id: int, phone: str | None = None,
                  name: str | None = None, registered_address: str | None = None,
                  expected_version: int | None = None) -> Person:
    person = get_person(session, actor=actor, person_id=person_id, action=MANAGE)
    if person.purged_at is not None:
        raise Conflict("This person's personal data was purged", "该人员的个人信息已按保存期限清除",
                       code="purged")
    id_number, old_phone = plain(person, strict=True)
    data = clean(PersonInput(name or person.name or "", id_number, phone if phone is not None else old_phone,
                             registered_address if registered_address is not None else person.registered_address,
                             id_type=person.id_type),
                 id_required=False)
    bump(person, expected_version, "人员")
    changed = [f for f, old, new in (("name", person.name, data.name), ("phone", old_phone, data.phone),
                                      ("registered_address", person.registered_address, data.registered_address))
               if old != new]
    person.name, person.registered_address = data.name, data.registered_address
    seal(person, id_number=id_number, phone=data.phone)
    session.flush()
    record(session, actor, "housing.person.update", None, person=person, detail={"changed": changed})
    return person


def search(session: Session, *, actor: Actor, id_number: str | None = None, phone: str | None = None,
           name: str | None = None, id_type: str | None = None, limit: int = 50) -> list[Person]:
    """Exact lookup by document (type, resident ID unless given, and number) or phone (through
    the digests), or by name, within reach."""
    stmt = select(Person).where(listable(session, actor, READ, Person.region_code))
    if id_number:
        kind = documents.check_type(id_type)
        stmt = stmt.where(Person.id_number_digest.in_(_id_digests(kind, documents.validate(kind, id_number))))
    if phone:
        stmt = stmt.where(Person.phone_digest.in_(pii.digests("phone", validate_phone(phone))))
    if name:
        stmt = stmt.where(Person.name == name.strip())
    if not (id_number or phone or name):
        raise InvalidInput("Search by document number, phone or name", "请按证件号码、手机号或姓名查找",
                           code="search_required")
    return list(session.scalars(stmt.order_by(Person.id).limit(limit)))


def reveal(session: Session, *, actor: Actor, person_id: int, fields: list[str], reason: str) -> dict[str, Any]:
    """The full document number (with its type) and/or phone: needs housing.reveal and a reason;
    always audited."""
    reason = (reason or "").strip()
    if not MIN_REASON <= len(reason) <= MAX_REASON:
        raise InvalidInput(f"Give the reason for looking ({MIN_REASON}–{MAX_REASON} characters)",
                           f"请填写查看原因（{MIN_REASON}–{MAX_REASON} 个字）", code="reason_required")
    unknown = set(fields) - set(REVEALABLE)
    if not fields or unknown:
        raise InvalidInput(f"fields must be some of {', '.join(REVEALABLE)}",
                           "请选择要查看的字段：证件号码（id_number）或手机号（phone）", code="invalid_fields")
    person = get_person(session, actor=actor, person_id=person_id, action=REVEAL)
    if person.purged_at is not None:
        raise Conflict("This person's personal data was purged", "该人员的个人信息已按保存期限清除",
                       code="purged")
    id_number, phone = plain(person)
    audit.record(session, action=REVEAL, actor_id=actor.user_id, actor_name=actor.name,
                 target_type="housing_person", target_id=str(person.id), region_code=person.region_code,
                 detail={"fields": sorted(set(fields)), "reason": reason})
    values = {"id_number": id_number, "phone": phone}
    shown = {f: values[f] for f in sorted(set(fields))}
    if "id_number" in shown:  # say which document the number is of
        shown.update(id_type=person.id_type, id_type_label=documents.label(person.id_type))
    return shown
