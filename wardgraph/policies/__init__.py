"""The SQL that holds the rules: grants, RLS policies and functions, one file per concern.

The files are applied in ``POLICY_FILES`` order after the versioned migrations, inside the same
transaction, by :mod:`wardgraph.migrations.apply`. Each file is idempotent; before they run, every
policy and every privilege of the wg_* roles on the app's schemas is cleared, so the live
database holds exactly what the files say.
"""

import re
from importlib import resources

POLICY_FILES: tuple[str, ...] = (
    "roles.sql",
    "schemas.sql",
    "claims.sql",
    "local_days.sql",
    "tenants.sql",
    "facilities.sql",
    "wards.sql",
    "beds.sql",
    "users.sql",
    "patients.sql",
    "partner_tokens.sql",
    "auth.sql",
    "persisted_queries.sql",
    "rate_limits.sql",
    "audit.sql",
    "admissions.sql",
    "observations.sql",
    "bed_days.sql",
    "reports.sql",
    # Last: views over the catalog, which read what every file above created.
    "audit_matrix.sql",
)


def read_policy(name: str) -> str:
    """The text of one policy file."""
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def all_policy_sql() -> list[tuple[str, str]]:
    """(file name, SQL) for every policy file, in the order they are applied."""
    return [(name, read_policy(name)) for name in POLICY_FILES]


_ROLE_LIST = re.compile(r"function platform\.wardgraph_roles\(\).*?array\[(.*?)\]", re.S)


def declared_roles() -> tuple[str, ...]:
    """Every wg_* role, read from roles.sql: the one place the list is written."""
    found = _ROLE_LIST.search(read_policy("roles.sql"))
    if found is None:
        raise RuntimeError("policies/roles.sql declares no platform.wardgraph_roles() list")
    return tuple(re.findall(r"'(wg_\w+)'", found.group(1)))


ROLES: tuple[str, ...] = declared_roles()
