"""Append-only, tamper-evident audit trail.

Every consequential act (sign-ins, changes, imports, reveals of personal data, denials) appends
one row to a hash chain: each row's hash covers its content and the previous row's hash, and the
chain head is kept in ``app_meta``. Editing, deleting or truncating rows breaks the chain, and
``verify`` (``shanzhi audit verify``) names the first broken row.
"""
