"""Moving all personal data to the newest key (`shanzhi pii rotate-keys`).

Every encrypted column is listed once, in TABLES. A run goes table by table and re-seals each
row holding a value not under the current key (legacy Fernet tokens included), in id-ordered
batches of one transaction each: an interrupted run keeps what it did and resumes, and reads work
throughout because every value names its key. Opening is strict: a value under a key no longer
configured stops the run with PiiKeyError before anything in that batch is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, LargeBinary, and_, func, literal, or_, select, update
from sqlalchemy.orm import Session

from shanzhi import pii
from shanzhi.accounts.crypto import decrypt_text
from shanzhi.accounts.models import User
from shanzhi.audit import service as audit
from shanzhi.db import transaction
from shanzhi.errors import ShanzhiError
from shanzhi.events.models import Event
from shanzhi.gridpeople.models import GridPerson
from shanzhi.housing.models import Person
from shanzhi.housing.people import seal
from shanzhi.orgs.models import OrgContact

Plain = tuple[str | None, ...]
Report = Callable[[str, int, int], None]


def _seal_columns(table: Sealed, session: Session, row: Any, values: Plain, key: pii.Key) -> None:
    # A statement rather than attribute changes: re-sealing is not an edit, so it must not bump
    # updated_at (kept as read) nor an optimistic-lock version (events).
    ident = getattr(table.model, table.id_column)
    kept = {c.key: getattr(row, c.key) for c in table.model.__table__.c if c.onupdate is not None}
    sealed = {c: pii.encrypt(v, key) for c, v in zip(table.columns, values, strict=True)}
    session.execute(update(table.model).where(ident == getattr(row, table.id_column)).values(**sealed, **kept))


def _seal_person(table: Sealed, session: Session, person: Person, values: Plain, key: pii.Key) -> None:
    # The registry's own seal, so the keyed digests and pii_key follow the new key.
    id_number, phone = values
    seal(person, id_number=id_number, phone=phone, key=key)


Writer = Callable[["Sealed", Session, Any, Plain, pii.Key], None]


@dataclass(frozen=True)
class Sealed:
    """One table's encrypted columns."""

    model: Any
    columns: tuple[str, ...]
    label: str  # for the people reading the command's output
    key_column: str | None = None  # names each row's key (indexed): finds stale rows without a scan
    write: Writer = _seal_columns
    id_column: str = "id"

    @property
    def table(self) -> str:
        return str(self.model.__tablename__)

    def stale(self, key: pii.Key) -> ColumnElement[bool]:
        """Rows holding a value not under `key`."""
        if self.key_column:
            named = getattr(self.model, self.key_column)
            return and_(named.is_not(None), named != key.id)
        prefix = key.id.encode() + b":"
        return or_(*(and_(col.is_not(None), func.substr(col, 1, len(prefix)) != literal(prefix, LargeBinary))
                     for col in (getattr(self.model, c) for c in self.columns)))


TABLES: tuple[Sealed, ...] = (
    Sealed(User, ("phone_encrypted",), "用户 users"),
    Sealed(Event, ("reporter_phone_encrypted",), "事件报告人 reporters"),
    Sealed(OrgContact, ("phone_encrypted",), "组织联系人 organization contacts"),
    Sealed(GridPerson, ("phone_encrypted",), "网格人员 grid people"),
    Sealed(Person, ("id_number_encrypted", "phone_encrypted"), "房屋住户 residents", "pii_key", _seal_person),
)


def pending(session: Session) -> dict[str, int]:
    """Per table, the rows still holding a value not under the current key."""
    key = pii.current_key()
    return {t.table: session.scalar(select(func.count()).select_from(t.model).where(t.stale(key))) or 0
            for t in TABLES}


def rotate_batch(session: Session, table: Sealed, *, batch: int = 500, after_id: int = 0) -> tuple[int, int]:
    """Re-seal up to `batch` stale rows of `table` with ids above `after_id`; returns (rows moved,
    last id). A value no configured key opens raises PiiKeyError with nothing of the batch written."""
    key = pii.current_key()
    ident = getattr(table.model, table.id_column)
    # Locked (PostgreSQL): a phone changed meanwhile must not be overwritten by its old value.
    rows = session.scalars(select(table.model).where(table.stale(key), ident > after_id)
                           .order_by(ident).limit(batch).with_for_update()).all()
    opened = [_open(row, table.columns) for row in rows]  # all first: a missing key writes nothing
    for row, values in zip(rows, opened, strict=True):
        table.write(table, session, row, values, key)
    session.flush()
    return len(rows), (getattr(rows[-1], table.id_column) if rows else after_id)


def _open(row: Any, columns: tuple[str, ...]) -> Plain:
    return tuple(None if (v := getattr(row, c)) is None else decrypt_text(v, strict=True) for c in columns)


def rotate(factory: Callable[[], Session], *, batch: int = 500, report: Report | None = None,
           by: str = "命令行 CLI") -> dict[str, int]:
    """Move every table to the current key, one transaction per batch; the rows moved per table.
    Audited once per run, as failed (with what it moved) when a missing key stops it."""
    with transaction(factory) as session:
        left = pending(session)
    moved = dict.fromkeys(left, 0)
    try:
        for table in TABLES:
            n, last = batch, 0
            while n == batch:
                with transaction(factory) as session:
                    n, last = rotate_batch(session, table, batch=batch, after_id=last)
                moved[table.table] += n
                if report and n:
                    report(table.label, moved[table.table], max(left[table.table], moved[table.table]))
    except ShanzhiError as exc:
        with transaction(factory) as session:
            _record(session, moved, by, error=exc.message)
        raise
    with transaction(factory) as session:
        _record(session, moved, by)
    return moved


def _record(session: Session, moved: dict[str, int], by: str, error: str | None = None) -> None:
    detail: dict[str, Any] = {"moved": moved, "key": pii.current_key().id, "keys": [k.id for k in pii.keyring()]}
    if error:
        detail["error"] = error
    audit.record(session, action="pii.rotate_keys", actor_name=by, target_type="pii",
                 outcome="failed" if error else "allowed", detail=detail)
