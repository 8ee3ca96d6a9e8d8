"""Test fixtures: one migrated database per run, each test in a transaction rolled back after.

Set SHANZHI_TEST_DATABASE_URL=postgresql+psycopg://… to run on PostgreSQL; the run then works
in a throwaway schema of that database and drops it at the end. The default is a SQLite file.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from shanzhi import terminal
from shanzhi.app import create_app
from shanzhi.config import Settings
from shanzhi.db import make_engine
from shanzhi.migrate import upgrade


def _test_engine(tmp: Path) -> tuple[Engine, str | None]:
    url = os.environ.get("SHANZHI_TEST_DATABASE_URL")
    if not url:
        return make_engine(f"sqlite:///{tmp / 'test.db'}"), None
    schema = f"shanzhi_test_{uuid.uuid4().hex[:10]}"
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    from sqlalchemy import create_engine

    return create_engine(url, connect_args={"options": f"-csearch_path={schema}"}), schema


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    eng, schema = _test_engine(tmp_path_factory.mktemp("db"))
    upgrade(eng)
    yield eng
    eng.dispose()
    if schema:
        admin = make_engine(os.environ["SHANZHI_TEST_DATABASE_URL"])
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator:
    conn = engine.connect()
    trans = conn.begin()
    yield conn
    trans.rollback()
    conn.close()


def _session_on(conn) -> Session:  # type: ignore[no-untyped-def]
    # Commits inside services and requests only release a SAVEPOINT; the test's outer
    # transaction is rolled back at the end, so tests never see each other's data.
    return Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)


@pytest.fixture
def session(connection) -> Iterator[Session]:  # type: ignore[no-untyped-def]
    s = _session_on(connection)
    yield s
    s.close()


@pytest.fixture
def client(connection, tmp_path: Path) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    app = create_app(Settings(data_dir=tmp_path), sessions=lambda: _session_on(connection))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """A wide terminal, so tables are not folded mid-word. Rich fixes a console's width when it
    is created if COLUMNS is set then, so the consoles are made to read it again."""
    monkeypatch.setenv("COLUMNS", "250")
    for console in (terminal.console, terminal.err_console):
        monkeypatch.setattr(console, "_width", None)


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wide_terminal: None) -> Iterator:
    """The `shanzhi` command line on a fresh SQLite data folder (whatever the test backend):
    run("init"), run("regions", "import", path, input=…) → click's Result."""
    from typer.testing import CliRunner

    from shanzhi import db
    from shanzhi.cli import app
    from shanzhi.config import get_settings

    monkeypatch.setenv("SHANZHI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("SHANZHI_DATABASE_URL", raising=False)
    monkeypatch.delenv("SHANZHI_PII_KEYS", raising=False)
    get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args, input=None: runner.invoke(app, list(args), input=input)
    get_settings.cache_clear()
    for engine in db._engines.values():
        engine.dispose()
    db._engines.clear()


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """keys("k2:…,k1:…") sets SHANZHI_PII_KEYS for the rest of the test; keys(None) unsets it."""
    from shanzhi.config import get_settings

    def use(value: str | None) -> None:
        if value is None:
            monkeypatch.delenv("SHANZHI_PII_KEYS", raising=False)
        else:
            monkeypatch.setenv("SHANZHI_PII_KEYS", value)
        get_settings.cache_clear()

    yield use
    monkeypatch.delenv("SHANZHI_PII_KEYS", raising=False)
    get_settings.cache_clear()
