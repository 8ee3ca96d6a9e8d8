"""Fixtures of the orgs tests; the world they build is described in `orgs_world`."""

from orgs_world import world  # noqa: F401  (registers the fixture)
