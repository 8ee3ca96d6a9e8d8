"""Alembic environment: runs on the engine handed over by shanzhi.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import shanzhi.models  # noqa: F401  (registers every table on Base.metadata)
from shanzhi.db import Base

config = context.config
engine = config.attributes.get("engine") or create_engine(config.get_main_option("sqlalchemy.url"))

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copy
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
