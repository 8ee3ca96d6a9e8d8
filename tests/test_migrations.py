"""Migrations: the schema built by Alembic is the schema the models describe, both ways."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import shanzhi.models  # noqa: F401
from shanzhi.db import Base
from shanzhi.migrate import current, downgrade, upgrade


def test_the_migrated_schema_matches_the_models(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    assert current(engine) is not None


def test_migrations_go_down_to_nothing_and_back_up(engine):
    head = current(engine)
    try:
        downgrade(engine, "base")
        tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
        assert tables == set()
    finally:
        upgrade(engine)
    assert current(engine) == head
    assert {"regions", "app_meta"} <= set(inspect(engine).get_table_names())
