"""The matrix's probes in SQL: as each request role, through the API's login role, with the home
tenant's claims, every table of the app and platform schemas (enumerated from pg_class) shows,
changes and accepts nothing of the away tenant: zero rows, or a refusal by privilege or by
row-level security. And each partner scope opens exactly the tables it names.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import pytest

from tests.factories import admin_fetch
from tests.harness import DatabaseUnderTest
from tests.security.world import OTHER_TENANT, OWN, World
from tests.sql_roles import claimed
from wardgraph.auth.claims import PARTNER_SCOPES, USER_ROLES, Claims, Role

REQUEST_ROLES = (*USER_ROLES, Role.PARTNER)

TABLES = """
select n.nspname || '.' || c.relname as name,
       exists (select 1 from pg_attribute a
               where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped)
           as has_tenant,
       -- A BEFORE INSERT row trigger runs ahead of the row-security check and may refuse first.
       exists (select 1 from pg_trigger t
               where t.tgrelid = c.oid and not t.tgisinternal
                 and t.tgtype & 1 = 1 and t.tgtype & 2 = 2 and t.tgtype & 4 = 4)
           as refused_by_trigger
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where n.nspname in ('app', 'platform') and c.relkind in ('r', 'p')
order by 1
"""

# A column each role may update, if any (UPDATE probes touch it with itself).
UPDATABLE_COLUMN = """
select a.attname from pg_attribute a
where a.attrelid = $1::regclass and a.attnum > 0 and not a.attisdropped
  and has_column_privilege($2, a.attrelid, a.attnum, 'UPDATE')
order by a.attnum limit 1
"""


@dataclass(frozen=True)
class Table:
    name: str
    has_tenant: bool
    refused_by_trigger: bool


async def tables(admin_url: str) -> list[Table]:
    rows = await admin_fetch(admin_url, TABLES)
    return [Table(r["name"], r["has_tenant"], r["refused_by_trigger"]) for r in rows]


def home_claims(world: World, role: Role, facility_site: str = OWN,
                scopes: tuple[str, ...] = PARTNER_SCOPES) -> Claims:
    """The home tenant's claims for `role`, with the facilities of `facility_site` (another
    tenant's facilities are a forged claim: the tenant claim must still win)."""
    home, facility = world.sites[OWN], world.sites[facility_site]
    return Claims(
        tenant_id=home.kit.tenant_id, role=role,
        user_id=None if role is Role.PARTNER else home.uuid_of("User"),
        partner_token_id=home.uuid_of("PartnerToken") if role is Role.PARTNER else None,
        facility_ids=(facility.uuid_of("Facility"),),
        scopes=scopes if role is Role.PARTNER else ())


async def refused(connection: asyncpg.Connection, sql: str, *args: object) -> str | None:
    """The statement's status, or None when privilege or row security refused it (each in a
    savepoint, so one refusal leaves the transaction usable)."""
    try:
        async with connection.transaction():
            status: str = await connection.execute(sql, *args)
            return status
    except asyncpg.InsufficientPrivilegeError:
        return None


@pytest.fixture
def api_url(database: DatabaseUnderTest) -> str:
    return database.api_url


CLAIMS_VARIANTS = {
    "home-claims": OWN,
    "home-tenant-with-away-facilities": OTHER_TENANT,
}


async def test_the_away_tenant_has_rows_in_every_tenant_table(world: World) -> None:
    """Otherwise a probe that sees zero rows would prove nothing."""
    away = world.sites[OTHER_TENANT].kit.tenant_id
    empty = []
    for table in await tables(world.admin_url):
        if table.has_tenant:
            [row] = await admin_fetch(
                world.admin_url, f"select count(*) as n from {table.name} where tenant_id = $1",
                away)
            empty += [table.name] if row["n"] == 0 else []
    assert empty == [], "seed these tables in tests/security/world.py"


@pytest.mark.parametrize("claims_variant", CLAIMS_VARIANTS)
@pytest.mark.parametrize("role", REQUEST_ROLES, ids=lambda r: r.value)
async def test_select_as_each_role_sees_no_row_of_another_tenant(
    world: World, api_url: str, role: Role, claims_variant: str
) -> None:
    home = world.sites[OWN].kit.tenant_id
    seen: list[str] = []
    claims = home_claims(world, role, CLAIMS_VARIANTS[claims_variant])
    async with claimed(api_url, claims, role) as connection:
        for table in await tables(world.admin_url):
            if not table.has_tenant:
                # Deployment-wide tables (no tenant_id) are closed to every request role.
                status = await refused(connection, f"select 1 from {table.name} limit 1")
                seen += [f"{table.name}: readable"] if status is not None else []
                continue
            try:
                async with connection.transaction():
                    foreign = await connection.fetchval(
                        f"select count(*) from {table.name} where tenant_id <> $1", home)
            except asyncpg.InsufficientPrivilegeError:
                continue
            seen += [f"{table.name}: {foreign} rows"] if foreign else []
    assert seen == []


@pytest.mark.parametrize("role", REQUEST_ROLES, ids=lambda r: r.value)
async def test_select_without_a_tenant_claim_sees_no_row_at_all(
    world: World, api_url: str, role: Role
) -> None:
    seen: list[str] = []
    async with claimed(api_url, None, role) as connection:
        for table in await tables(world.admin_url):
            try:
                async with connection.transaction():
                    count = await connection.fetchval(f"select count(*) from {table.name}")
            except asyncpg.InsufficientPrivilegeError:
                continue
            seen += [f"{table.name}: {count} rows"] if count else []
    assert seen == []


@pytest.mark.parametrize("role", REQUEST_ROLES, ids=lambda r: r.value)
async def test_update_and_delete_as_each_role_touch_no_row_of_another_tenant(
    world: World, api_url: str, role: Role
) -> None:
    home = world.sites[OWN].kit.tenant_id
    away = world.sites[OTHER_TENANT].kit.tenant_id
    touched: list[str] = []
    async with claimed(api_url, home_claims(world, role), role) as connection:
        for table in await tables(world.admin_url):
            if not table.has_tenant:
                continue
            [column] = [r["attname"] for r in await admin_fetch(
                world.admin_url, UPDATABLE_COLUMN, table.name, role.db_role)] or ["tenant_id"]
            probes = [
                (f'update {table.name} set "{column}" = "{column}" where tenant_id = $1',
                 (away,)),
                # Moving one's own rows into the other tenant.
                (f"update {table.name} set tenant_id = $1 where tenant_id = $2", (away, home)),
                (f"delete from {table.name} where tenant_id = $1", (away,)),
            ]
            for sql, args in probes:
                try:
                    status = await refused(connection, sql, *args)
                except asyncpg.IntegrityConstraintViolationError:
                    continue  # a composite foreign key refused the move: nothing changed
                if status is not None and status.split()[-1] != "0":
                    touched.append(f"{table.name}: {status} by {sql.split()[0]}")
    assert touched == []


@pytest.mark.parametrize("role", REQUEST_ROLES, ids=lambda r: r.value)
async def test_insert_as_each_role_into_another_tenant_is_refused(
    world: World, api_url: str, role: Role
) -> None:
    away = world.sites[OTHER_TENANT].kit.tenant_id
    accepted: list[str] = []
    async with claimed(api_url, home_claims(world, role), role) as connection:
        for table in await tables(world.admin_url):
            if not table.has_tenant:
                continue
            sql = f"insert into {table.name} (tenant_id) values ($1)"
            try:
                async with connection.transaction():
                    status = await connection.execute(sql, away)
                accepted.append(f"{table.name}: {status}")
            except asyncpg.InsufficientPrivilegeError:
                continue  # permission denied, or the row-security check
            except asyncpg.IntegrityConstraintViolationError as error:
                # Only a trigger that runs before the row-security check may refuse first.
                if not table.refused_by_trigger:
                    accepted.append(f"{table.name}: reached the constraints ({error.sqlstate})")
    assert accepted == []


def phi_tables_of_a_scope(visible: dict[str, set[str]], scope: str) -> set[str]:
    return visible[scope] - visible[""]


# What each partner scope opens beyond what every partner sees (its facilities, wards, beds
# and its own token). observations:write reads back only what the token recorded itself.
SCOPE_TABLES = {
    "patients:read": {"app.patients"},
    "admissions:read": {"app.admissions", "app.bed_stays"},
    "observations:read": {"app.observations", "app.escalations"},
    "observations:write": set(),
    "billing:read": {"app.bed_days"},
    "reports:read": set(),
}


async def test_each_partner_scope_opens_exactly_its_tables(world: World, api_url: str) -> None:
    assert set(SCOPE_TABLES) == set(PARTNER_SCOPES)
    visible: dict[str, set[str]] = {}
    for scope in ("", *PARTNER_SCOPES):
        claims = home_claims(world, Role.PARTNER, scopes=(scope,) if scope else ())
        visible[scope] = set()
        async with claimed(api_url, claims, Role.PARTNER) as connection:
            for table in await tables(world.admin_url):
                try:
                    async with connection.transaction():
                        if await connection.fetchval(f"select count(*) from {table.name}"):
                            visible[scope].add(table.name)
                except asyncpg.InsufficientPrivilegeError:
                    continue
    assert {scope: phi_tables_of_a_scope(visible, scope) for scope in PARTNER_SCOPES} == (
        SCOPE_TABLES)
    assert visible[""] == {"app.facilities", "app.wards", "app.beds", "app.partner_tokens",
                           "app.partner_token_facilities", "platform.tenants"}


def phi_columns(rows: list[asyncpg.Record]) -> set[str]:
    return {f"{r['table_name']}.{r['column_name']}" for r in rows}


GRANTED_COLUMNS = """
select c.relname as table_name, a.attname as column_name
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
where n.nspname = 'app' and c.relkind = 'r'
  and has_column_privilege($1, c.oid, a.attnum, 'SELECT')
"""

# Where a patient's record lives: the patient, and every table naming a patient or an
# admission (vital signs, escalations, stays, charges). The audit trail names patients by id
# only, and is what the auditor is for.
PHI_TABLES = """
select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
where n.nspname = 'app' and c.relkind = 'r' and c.relname <> 'audit_events'
  and (c.relname = 'patients' or exists (
      select 1 from pg_attribute a where a.attrelid = c.oid and not a.attisdropped
        and a.attname in ('patient_id', 'admission_id')))
"""


async def test_auditor_is_granted_no_column_of_any_table_holding_phi(world: World) -> None:
    phi = {r["relname"] for r in await admin_fetch(world.admin_url, PHI_TABLES)}
    assert {"patients", "observations", "admissions", "bed_days"} <= phi
    granted = await admin_fetch(world.admin_url, GRANTED_COLUMNS, "wg_auditor")
    assert sorted(c for c in phi_columns(granted) if c.split(".")[0] in phi) == []


@pytest.mark.parametrize("role", ["wg_billing", "wg_auditor"])
async def test_billing_and_auditor_are_granted_no_clinical_column(
    world: World, role: str
) -> None:
    granted = phi_columns(await admin_fetch(world.admin_url, GRANTED_COLUMNS, role))
    clinical = {c for c in granted
                if c.split(".")[0] in ("observations", "escalations")
                or c.startswith("patients.spo2_scale")}
    assert clinical == set()
