"""Imports every table module so Base.metadata knows the whole schema (Alembic, tests)."""

from shanzhi.accounts.models import ApiToken, LoginThrottle, RoleAssignment, User, WebSession  # noqa: F401
from shanzhi.audit.models import AuditEntry  # noqa: F401
from shanzhi.db import AppMeta  # noqa: F401
from shanzhi.detect.models import CategoryCorrection, DetectAlert  # noqa: F401
from shanzhi.events.models import Event, EventCounter, EventPhoto, EventStep, Notification, OutboxMessage  # noqa: F401
from shanzhi.geo.models import Region  # noqa: F401
from shanzhi.orgs.models import Organization  # noqa: F401
from shanzhi.orgs import alliance_models, list_models, models as orgs_models  # noqa: F401  (contacts, alliances, lists)
from shanzhi.gridpeople.models import GridAssignment, GridPerson, PatrolLog  # noqa: F401
from shanzhi.housing import models as housing_models  # noqa: F401  (buildings, units, people, registrations, inspections)
