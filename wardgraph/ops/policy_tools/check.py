"""No drift: the live catalog against what wardgraph/policies/ and the migrations define.

The expectation is not parsed out of the SQL files: it is built by running them. A scratch
database is created on the same server, migrated to head (migrations, then every policy file),
and both catalogs are read by the same queries (catalog.fetch_snapshot). Any difference, a
policy changed with ALTER POLICY, a grant added by hand, a function's search_path reset, is
reported field by field.

Roles and their memberships are cluster-wide, so the scratch database shares them with the live
one; roles.sql is checked by what the policies and grants name, not here.
"""

from __future__ import annotations

import asyncio
import difflib
from dataclasses import dataclass
from typing import Any, Literal

from wardgraph.migrations import runner
from wardgraph.ops.policy_tools import AUDITED_SCHEMAS
from wardgraph.ops.policy_tools.catalog import Snapshot, fetch_snapshot
from wardgraph.ops.policy_tools.connection import connect, scratch_database

Change = Literal["missing", "unexpected", "changed"]


@dataclass(frozen=True)
class Difference:
    kind: str
    name: str
    change: Change
    # (field, expected, live) for a changed entry.
    fields: tuple[tuple[str, Any, Any], ...] = ()

    def render(self) -> str:
        title = f"{self.kind} {self.name}"
        if self.change == "missing":
            return f"- {title}: in the policy files, missing from the live database"
        if self.change == "unexpected":
            return f"+ {title}: in the live database, not in the policy files"
        lines = [f"~ {title}: differs"]
        for field, expected, live in self.fields:
            lines.extend(_render_field(field, expected, live))
        return "\n".join(lines)


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, list):
        return "{" + ", ".join(str(v) for v in value) + "}"
    return str(value)


def _render_field(field: str, expected: Any, live: Any) -> list[str]:
    if isinstance(expected, str) and isinstance(live, str) and "\n" in expected + live:
        diff = difflib.unified_diff(expected.splitlines(), live.splitlines(),
                                    "expected", "live", lineterm="", n=1)
        return [f"    {field}:"] + [f"      {line}" for line in diff]
    return [f"    {field}:", f"      expected: {_show(expected)}", f"      live:     {_show(live)}"]


def diff(expected: Snapshot, live: Snapshot) -> list[Difference]:
    """The entries that differ, in a stable order (by kind, then name)."""
    differences: list[Difference] = []
    for key in sorted(expected.keys() | live.keys()):
        kind, name = key
        if key not in live:
            differences.append(Difference(kind, name, "missing"))
        elif key not in expected:
            differences.append(Difference(kind, name, "unexpected"))
        else:
            fields = tuple((field, value, live[key].get(field))
                           for field, value in expected[key].items()
                           if live[key].get(field) != value)
            if fields:
                differences.append(Difference(kind, name, "changed", fields))
    return differences


async def snapshot_of(url: str) -> Snapshot:
    connection = await connect(url)
    try:
        return await fetch_snapshot(connection, AUDITED_SCHEMAS)
    finally:
        await connection.close()


async def expected_snapshot(admin_url: str) -> Snapshot:
    """The catalog the migrations and policy files produce on a fresh database of this server."""
    async with scratch_database(admin_url) as scratch_url:
        await asyncio.to_thread(runner.upgrade, scratch_url)
        return await snapshot_of(scratch_url)


@dataclass(frozen=True)
class CheckResult:
    differences: list[Difference]
    compared: int  # entries in the expected catalog

    @property
    def clean(self) -> bool:
        return not self.differences

    def render(self) -> str:
        if self.clean:
            return (f"no drift: the live catalog matches the policy files "
                    f"({self.compared} grants, policies, functions and flags compared)")
        body = "\n".join(d.render() for d in self.differences)
        count = len(self.differences)
        noun = "difference" if count == 1 else "differences"
        return (f"{body}\n\n{count} {noun} between the live catalog and the policy files "
                "(- expected but missing, + present but not expected, ~ changed)")


async def check(admin_url: str) -> CheckResult:
    """Compare the live database at admin_url with what the policy files define."""
    expected = await expected_snapshot(admin_url)
    return CheckResult(diff(expected, await snapshot_of(admin_url)), len(expected))
