"""Imports every table module so Base.metadata knows the whole schema (Alembic, tests)."""

from shanzhi.db import AppMeta  # noqa: F401
from shanzhi.geo.models import Region  # noqa: F401
