"""Users, roles, region scopes, sign-in and API tokens."""
