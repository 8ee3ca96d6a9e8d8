"""Engine, sessions and the declarative base.

Services only ``flush()``; the boundary (a request, a CLI command, a worker job) commits,
so several service calls combine into one transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    create_engine,
    event,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.sql.functions import FunctionElement

from shanzhi.config import Settings, get_settings

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(at: datetime | None) -> datetime | None:
    """An aware UTC datetime. SQLite hands back naive datetimes; everything is stored in UTC."""
    if at is None:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


SHANGHAI = ZoneInfo("Asia/Shanghai")


def local_time(at: datetime) -> datetime:
    """A stored (UTC) time as people in the district read it."""
    return as_utc(at).astimezone(SHANGHAI)  # type: ignore[union-attr]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class AppMeta(Base):
    """Small key/value facts about the database, e.g. the revision of the region tree."""

    __tablename__ = "app_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def get_meta(session: Session, key: str) -> str | None:
    return session.scalar(select(AppMeta.value).where(AppMeta.key == key))


def set_meta(session: Session, key: str, value: str) -> None:
    row = session.get(AppMeta, key)
    if row is None:
        session.add(AppMeta(key=key, value=value))
    else:
        row.value = value
        row.updated_at = utcnow()
    session.flush()


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin, so that
    # SAVEPOINTs and transactional DDL behave as on PostgreSQL.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    # WAL lets the web process read while the worker writes; foreign keys are off by default.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def _sqlite_begin(conn) -> None:  # type: ignore[no-untyped-def]
    # A transaction that will write takes the write lock up front. In WAL mode a deferred
    # transaction that read first and then writes after another writer committed fails at
    # once ("database is locked"), which busy_timeout cannot help; waiting at BEGIN can.
    immediate = conn.get_execution_options().get("sqlite_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True)


_engines: dict[str, Engine] = {}


def get_engine(settings: Settings | None = None) -> Engine:
    url = (settings or get_settings()).effective_database_url
    if url not in _engines:
        _engines[url] = make_engine(url)
    return _engines[url]


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """One transaction on the engine (default: the configured one)."""
    with transaction(session_factory(engine or get_engine())) as session:
        yield session


@contextmanager
def transaction(factory: Callable[[], Session], *, write: bool = True) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error.

    Then, either way, run what `after_transaction` queued, in a transaction of its own.
    `write=False` (a GET request) lets SQLite readers run beside a writer.
    """
    session = factory()
    engine = session.bind if write and isinstance(session.bind, Engine) else None
    # SQLite admits one writer and its busy handler retries by sleeping, which starves some
    # writers for seconds under load: this process's writers queue on a lock instead.
    queue = _sqlite_writers.setdefault(str(engine.url), threading.Lock()) \
        if engine is not None and engine.dialect.name == "sqlite" else nullcontext()
    with queue:
        try:
            try:
                if engine is not None:
                    session.connection(execution_options={"sqlite_write": True})
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                run_after_transaction(session)
        finally:
            session.close()


_sqlite_writers: dict[str, threading.Lock] = {}


def after_transaction(session: Session, effect: Callable[[Session], None]) -> None:
    """Queue a write that must survive a rollback of the current transaction.

    A denied request or a failed login raises an error, which rolls back the request's work;
    its audit row and the failure counter must still be written.
    """
    session.info.setdefault("after_transaction", []).append(effect)


def run_after_transaction(session: Session) -> None:
    effects = session.info.pop("after_transaction", [])
    if not effects:
        return
    try:
        for effect in effects:
            effect(session)
        session.commit()
    except BaseException:
        session.rollback()
        raise


def insert_ignoring_conflict(session: Session, table, values: dict, key: list[str]) -> None:  # type: ignore[no-untyped-def]
    """INSERT … ON CONFLICT DO NOTHING on both dialects (for rows created by the first of racers)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(insert(table).values(**values).on_conflict_do_nothing(index_elements=key))


def upsert_increment(session: Session, table, *, key: dict, column: str) -> int:  # type: ignore[no-untyped-def]
    """Add one to a counter row, creating it at 1, in one atomic statement; returns the new value."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table).values(**key, **{column: 1})
    stmt = stmt.on_conflict_do_update(index_elements=list(key), set_={column: table.c[column] + 1})
    return int(session.execute(stmt.returning(table.c[column])).scalar_one())


def for_update(stmt, session: Session):  # type: ignore[no-untyped-def]
    """Row lock on PostgreSQL; SQLite serializes writers, and has no FOR UPDATE."""
    if session.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update()
    return stmt


def for_update_skip_locked(stmt, session: Session):  # type: ignore[no-untyped-def]
    """Row claiming for workers: SKIP LOCKED on PostgreSQL; SQLite serializes writers anyway."""
    if session.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update(skip_locked=True)
    return stmt


# -- SQL functions whose spelling differs by dialect ------------------------------------------


class shanghai_day(FunctionElement[str]):
    """The Asia/Shanghai date of a UTC timestamp, as 'YYYY-MM-DD'.

    China has kept UTC+8 without daylight saving since 1991, so SQLite's fixed offset is exact.
    """

    type = String()
    name = "shanghai_day"
    inherit_cache = True


@compiles(shanghai_day)
def _day_sqlite(element: shanghai_day, compiler: Any, **kw: Any) -> str:
    # SQLite stores the UTC wall time as text; date() reads it and shifts it.
    return f"date({compiler.process(element.clauses, **kw)}, '+8 hours')"


@compiles(shanghai_day, "postgresql")
def _day_postgresql(element: shanghai_day, compiler: Any, **kw: Any) -> str:
    return f"to_char(timezone('Asia/Shanghai', {compiler.process(element.clauses, **kw)}), 'YYYY-MM-DD')"


class floor_int(FunctionElement[int]):
    """floor(x) as an integer, for x ≥ 0 (map grid cells)."""

    type = Integer()
    name = "floor_int"
    inherit_cache = True


@compiles(floor_int)
def _floor_sqlite(element: floor_int, compiler: Any, **kw: Any) -> str:
    # SQLite's CAST truncates towards zero, which is floor for the non-negative values given.
    return f"CAST({compiler.process(element.clauses, **kw)} AS INTEGER)"


@compiles(floor_int, "postgresql")
def _floor_postgresql(element: floor_int, compiler: Any, **kw: Any) -> str:
    # PostgreSQL's CAST rounds, so floor first.
    return f"CAST(floor({compiler.process(element.clauses, **kw)}) AS INTEGER)"


class hours_between(FunctionElement[float]):
    """Hours from the first timestamp to the second, computed by the database.

    One float per handled event instead of two timestamps to parse in Python.
    """

    type = Float()
    name = "hours_between"
    inherit_cache = True


@compiles(hours_between)
def _hours_sqlite(element: hours_between, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 24.0)"


@compiles(hours_between, "postgresql")
def _hours_postgresql(element: hours_between, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"(extract(epoch from ({end} - {start})) / 3600.0)"
