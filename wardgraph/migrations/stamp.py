"""The schema stamp: which revision and which policy files a database was migrated to.

`wardgraph migrate` writes it as the comment of the app schema once it reaches head. Any role
that can connect reads comments from the catalog, so the API's login role (which can read no
table, alembic_version included) can tell at start-up whether the database is behind the code.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache

from alembic.script import ScriptDirectory

from wardgraph.migrations.runner import alembic_config
from wardgraph.policies import POLICY_FILES, read_policy

STAMP_PATTERN = re.compile(r"^wardgraph schema (?P<revision>\S+) policies (sha256:\w+|none)$")

READ_STAMP_SQL = """
select n.nspname is not null as has_schema,
       pg_catalog.obj_description(n.oid, 'pg_namespace') as stamp
from (select 1) one
left join pg_catalog.pg_namespace n on n.nspname = 'app'
"""


def policies_digest() -> str:
    """A fingerprint of the policy files."""
    digest = hashlib.sha256()
    for name in POLICY_FILES:
        digest.update(name.encode() + b"\0" + read_policy(name).encode() + b"\0")
    return digest.hexdigest()


@cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("postgresql://offline/wardgraph"))


def code_head() -> str:
    """The revision this version of the code migrates to."""
    head = _script().get_current_head()
    assert head is not None
    return head


def known_revisions() -> set[str]:
    return {revision.revision for revision in _script().walk_revisions()}


def expected_stamp() -> str:
    return f"wardgraph schema {code_head()} policies sha256:{policies_digest()}"


@dataclass(frozen=True)
class SchemaState:
    """How a database's schema compares with this version of the code."""

    up_to_date: bool
    behind: bool  # this version's `wardgraph migrate` would change it
    message: str


def compare(has_schema: bool, stamp: str | None) -> SchemaState:
    head = code_head()
    if not has_schema:
        return SchemaState(False, True, "the database has no wardgraph schema yet")
    if stamp == expected_stamp():
        return SchemaState(True, False, f"the database schema is up to date ({head})")
    match = STAMP_PATTERN.match(stamp or "")
    if match is None:
        return SchemaState(False, True, f"the database schema is not at {head}, the revision "
                                        "this version needs")
    revision = match["revision"]
    if revision not in known_revisions():
        # A newer release migrated it: expand-then-contract migrations keep the older code
        # working, so this version does not refuse it.
        return SchemaState(False, False, f"the database schema is at {revision}, newer than "
                                         f"this version's {head}")
    if revision != head:
        return SchemaState(False, True, f"the database schema is at {revision}, this version "
                                        f"needs {head}")
    return SchemaState(False, True, f"the database policies differ from this version's "
                                    f"(schema at {head})")
