"""Auditing the rules in SQL: the live policy matrix, the drift check against wardgraph/policies/,
the security lints and the generated docs/policies.md. `wardgraph policies` runs them."""

from wardgraph.migrations.apply import APP_SCHEMAS

# The schemas whose grants, policies and functions the policy files own.
AUDITED_SCHEMAS: tuple[str, ...] = APP_SCHEMAS
