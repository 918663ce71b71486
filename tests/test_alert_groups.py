"""Live alerts are read once per group of subscribers whose claims agree on everything the
escalations' read policies consult. The claims those policies read are derived here from the
live catalog: the policies' expressions, every function they call and every table they query
(with that table's read policies), followed to the end. A policy that starts reading a claim
the grouping ignores fails this test."""

from __future__ import annotations

import re
from uuid import uuid4

import asyncpg

from tests.harness import DatabaseUnderTest
from wardgraph.auth.claims import Claims, Role
from wardgraph.server.alert_groups import GROUPED_CLAIMS, group_key

READ_POLICIES = """
select coalesce(qual, '') from pg_catalog.pg_policies
where schemaname = $1 and tablename = $2 and cmd in ('SELECT', 'ALL')
"""
FUNCTION_BODIES = """
select p.prosrc from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
where n.nspname = $1 and p.proname = $2
"""
IS_TABLE = """
select exists (select 1 from pg_catalog.pg_class c join pg_catalog.pg_namespace n
               on n.oid = c.relnamespace where n.nspname = $1 and c.relname = $2
               and c.relkind in ('r', 'p', 'v'))
"""
NAME = re.compile(r"\b(app|platform|audit)\.(\w+)\b")
SETTING = re.compile(r"current_setting\(\s*'(wg\.\w+)'")


async def claims_read_by_policies(connection: asyncpg.Connection, table: str) -> set[str]:
    """Every wg.* setting the read policies of app.`table` depend on, however indirectly."""
    seen: set[tuple[str, str]] = set()
    pending = [("policies", "app", table)]
    found: set[str] = set()
    while pending:
        kind, schema, name = pending.pop()
        if (schema, name) in seen and kind != "policies":
            continue
        seen.add((schema, name))
        if kind == "policies":
            texts = [r[0] for r in await connection.fetch(READ_POLICIES, schema, name)]
        else:
            texts = [r[0] for r in await connection.fetch(FUNCTION_BODIES, schema, name)]
        for text in texts:
            found.update(SETTING.findall(text))
            for ref_schema, ref in NAME.findall(text):
                if (ref_schema, ref) in seen:
                    continue
                if await connection.fetchval(IS_TABLE, ref_schema, ref):
                    pending.append(("policies", ref_schema, ref))
                    seen.add((ref_schema, ref))
                else:
                    pending.append(("function", ref_schema, ref))
    return found


async def test_alert_groups_cover_every_claim_the_escalations_read_policies_read(
    database: DatabaseUnderTest,
) -> None:
    connection = await asyncpg.connect(database.admin_url)
    try:
        read = await claims_read_by_policies(connection, "escalations")
    finally:
        await connection.close()
    # What the policies read today: a derivation that found nothing would prove nothing.
    assert {"wg.tenant_id", "wg.facility_ids", "wg.scopes"} <= read
    assert read <= GROUPED_CLAIMS, f"alert groups ignore {read - GROUPED_CLAIMS}"


async def test_a_read_policy_on_the_user_id_is_caught_by_the_derivation(
    database: DatabaseUnderTest,
) -> None:
    connection = await asyncpg.connect(database.admin_url)
    try:
        async with connection.transaction():
            # Through a function, as a real policy would: the derivation follows the call.
            await connection.execute("""
                create function app.test_only_own_alerts() returns boolean language sql stable
                as $$ select app.current_user_id() is not null $$;
                create policy escalations_test_per_user on app.escalations as restrictive
                    for select to wg_nurse using ((select app.test_only_own_alerts()));""")
            read = await claims_read_by_policies(connection, "escalations")
            raise _Rollback
    except _Rollback:
        pass
    finally:
        await connection.close()
    assert "wg.user_id" in read
    assert not read <= GROUPED_CLAIMS


class _Rollback(Exception):
    """Leaves the transaction (and the policy created in it) undone."""


def test_subscribers_differing_only_in_who_they_are_share_a_group() -> None:
    tenant, facility = uuid4(), uuid4()
    one = Claims(tenant, Role.NURSE, user_id=uuid4(), facility_ids=(facility,))
    two = Claims(tenant, Role.NURSE, user_id=uuid4(), facility_ids=(facility,))
    assert group_key(one) == group_key(two)


def test_subscribers_differing_in_any_grouped_claim_do_not_share_a_group() -> None:
    tenant, facility, other = uuid4(), uuid4(), uuid4()
    base = Claims(tenant, Role.PARTNER, partner_token_id=uuid4(), facility_ids=(facility,),
                  scopes=("observations:read",))
    variants = [
        Claims(uuid4(), Role.PARTNER, facility_ids=(facility,), scopes=("observations:read",)),
        Claims(tenant, Role.NURSE, facility_ids=(facility,), scopes=("observations:read",)),
        Claims(tenant, Role.PARTNER, facility_ids=(facility, other),
               scopes=("observations:read",)),
        Claims(tenant, Role.PARTNER, facility_ids=(facility,),
               scopes=("observations:read", "patients:read")),
    ]
    assert all(group_key(variant) != group_key(base) for variant in variants)
