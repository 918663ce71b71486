"""Patient search by name prefix: the prefix is a range of the lower-cased name keys, so the
user's text matches literally (no wildcards) and case-insensitively, and a nurse's search runs
on the name-key indexes under her RLS policies, not on every patient of the tenant."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import asyncpg
import pytest

from tests.factories import TenantKit, admin_fetch
from tests.harness import Api, DatabaseUnderTest
from tests.seeding import Seeded, Shape, seed
from tests.sql_roles import claimed
from wardgraph.auth.claims import Claims, Role
from wardgraph.db.patients import SEARCH_PATIENTS_PAGE, prefix_range

SEARCH = """query($s: String, $first: Int, $after: String) {
  patients(search: $s, first: $first, after: $after) {
    edges { node { mrn familyName givenName } } pageInfo { hasNextPage endCursor } } }"""

LAST = "\U0010ffff"


@pytest.mark.parametrize(("text", "low", "high"), [
    pytest.param("Rah", "rah", "rai", id="ascii-lower-cased"),
    pytest.param("o%", "o%", "o&", id="percent-is-a-character"),
    pytest.param("a_", "a_", "a`", id="underscore-is-a-character"),
    pytest.param("b\\", "b\\", "b]", id="backslash-is-a-character"),
    pytest.param("z" + LAST, "z" + LAST, "{", id="last-code-point-carries"),
    pytest.param("\ud7ff", "\ud7ff", "\ue000", id="skips-the-surrogates"),
    pytest.param("ÉLO", "élo", "élp", id="non-ascii-lower-cased"),
])
def test_prefix_range_is_the_prefix_and_its_successor(text: str, low: str, high: str) -> None:
    assert prefix_range(text) == (low, high)


def test_prefix_of_only_the_last_code_point_is_bounded_above_every_key() -> None:
    low, high = prefix_range(LAST)
    assert low == LAST
    # A name is at most 100 characters, its key at most three times that.
    assert high > LAST * 300 and high.startswith(LAST)


async def search_names(api: Api, token: str, text: str) -> list[str]:
    data = await api.data(SEARCH, {"s": text, "first": 100}, token)
    return sorted(e["node"]["familyName"] for e in data["patients"]["edges"])


@pytest.mark.parametrize(("families", "text", "found"), [
    pytest.param(["O%Hara", "Oxhara", "Ohara"], "o%", ["O%Hara"], id="percent"),
    pytest.param(["A_Smith", "Ab_Smith", "AxSmith"], "a_", ["A_Smith"], id="underscore"),
    pytest.param(["B\\Jones", "BJones", "B\\\\Jones"], "b\\\\", ["B\\\\Jones"],
                 id="double-backslash"),
    pytest.param(["B\\Jones", "BJones", "Bx"], "b\\", ["B\\Jones"], id="backslash"),
    pytest.param(["%", "Anyone"], "%", ["%"], id="percent-alone"),
    pytest.param(["Z" + LAST + "a", "Za", "{ok"], "z" + LAST, ["Z" + LAST + "a"],
                 id="last-code-point"),
    pytest.param([LAST + LAST, LAST + "x", "\U0010fffe"], LAST, [LAST + LAST, LAST + "x"],
                 id="only-the-last-code-point"),
    pytest.param(["\ud7ffa", "\ue000"], "\ud7ff", ["\ud7ffa"], id="before-the-surrogates"),
])
async def test_search_matches_wildcards_and_edge_characters_literally(
    api: Api, tenant: TenantKit, families: list[str], text: str, found: list[str]
) -> None:
    facility = tenant.facilities["DHK"]
    for family in families:
        await tenant.patient(facility, family=family, given="Given")
    nurse = await tenant.user(Role.NURSE, [facility])
    assert await search_names(api, nurse, text) == sorted(found)
    assert await search_names(api, tenant.admin_token, text) == sorted(found)


@pytest.mark.parametrize("text", [
    pytest.param("mcd", id="lower"), pytest.param("MCD", id="upper"),
    pytest.param("mCd", id="mixed"),
])
async def test_search_finds_family_names_whatever_the_case(
    api: Api, tenant: TenantKit, text: str
) -> None:
    facility = tenant.facilities["DHK"]
    await tenant.patient(facility, family="McDonald", given="Ian")
    await tenant.patient(facility, family="Macdonald", given="Ian")
    nurse = await tenant.user(Role.NURSE, [facility])
    assert await search_names(api, nurse, text) == ["McDonald"]


@pytest.mark.parametrize("text", [
    pytest.param("élo", id="lower"), pytest.param("ÉLO", id="upper"),
])
async def test_search_finds_given_names_whatever_the_case_beyond_ascii(
    api: Api, tenant: TenantKit, text: str
) -> None:
    facility = tenant.facilities["DHK"]
    await tenant.patient(facility, family="Martin", given="Élodie")
    await tenant.patient(facility, family="Bernard", given="Eloise")
    nurse = await tenant.user(Role.NURSE, [facility])
    assert await search_names(api, nurse, text) == ["Martin"]


async def test_search_pages_follow_the_cursor_without_gaps_or_repeats(
    api: Api, tenant: TenantKit
) -> None:
    facility = tenant.facilities["DHK"]
    for n in range(7):
        await tenant.patient(facility, mrn=f"S-{n}", family=f"Rahman{n % 3}", given=f"G{n}")
    await tenant.patient(facility, mrn="S-X", family="Other", given="Rahim")
    await tenant.patient(facility, mrn="S-Y", family="Other", given="Nobody")
    nurse = await tenant.user(Role.NURSE, [facility])
    seen: list[str] = []
    after = None
    while True:
        data = await api.data(SEARCH, {"s": "RAH", "first": 3, "after": after}, nurse)
        page = data["patients"]
        seen += [e["node"]["mrn"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert sorted(seen) == sorted([f"S-{n}" for n in range(7)] + ["S-X"])
    assert len(seen) == len(set(seen))


async def test_generated_name_keys_cannot_be_written_or_inserted_by_request_roles(
    database: DatabaseUnderTest,
) -> None:
    granted = await admin_fetch(database.admin_url, """
        select grantee, privilege_type, column_name
        from information_schema.column_privileges
        where table_schema = 'app' and table_name = 'patients'
          and column_name in ('family_name_key', 'given_name_key')
        order by 1, 2, 3""")
    kinds = {(r["grantee"], r["privilege_type"]) for r in granted
             if r["grantee"].startswith("wg_")}
    assert kinds == {(role, "SELECT") for role in
                     ("wg_admin", "wg_clinician", "wg_nurse", "wg_billing", "wg_partner")}


# -- the plan a nurse's search gets ------------------------------------------------------------

# 10 tenants x 2 facilities x 100 patients: 2,000 patients, 200 per tenant; one observation each.
SHAPE = Shape(name="", tenants=10, facilities=2, wards=2, beds=25, patients=100, observations=1)
NAME_KEY_INDEXES = {"patients_family_name_key", "patients_given_name_key"}
PLAN_MODES = [pytest.param("force_custom_plan", id="custom-plan"),
              pytest.param("force_generic_plan", id="generic-plan")]


@pytest.fixture(scope="module")
async def seeded(database: DatabaseUnderTest) -> Seeded:
    connection = await asyncpg.connect(database.admin_url)
    try:
        return await seed(connection, replace(SHAPE, name=f"search{secrets.token_hex(4)}"))
    finally:
        await connection.close()


@pytest.fixture
async def as_nurse(database: DatabaseUnderTest, seeded: Seeded
                   ) -> AsyncIterator[asyncpg.Connection]:
    """The API's login role in a transaction with the claims of tenant 1's facility-1 nurse."""
    nurse = Claims(tenant_id=seeded.tenant_id(1), role=Role.NURSE,
                   user_id=seeded.nurse_id(1, 1), facility_ids=(seeded.facility_id(1, 1),))
    async with claimed(database.api_url, nurse, request_id="search-plans") as connection:
        yield connection


def search_arguments(seeded: Seeded, text: str) -> tuple[Any, ...]:
    low, high = prefix_range(text)
    return (seeded.tenant_id(1), text, low, high, None, None, None, 21)


def literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from nodes(child)


async def search_plan(connection: asyncpg.Connection, arguments: tuple[Any, ...],
                      mode: str) -> dict[str, Any]:
    await connection.execute(f"set local plan_cache_mode = {mode}")
    name = f"search_{secrets.token_hex(4)}"
    await connection.execute(f"prepare {name} as {SEARCH_PATIENTS_PAGE}")
    text = await connection.fetchval(
        f"explain (format json) execute {name}({', '.join(literal(a) for a in arguments)})")
    await connection.execute(f"deallocate {name}")
    plan: dict[str, Any] = json.loads(text)[0]["Plan"]
    return plan


@pytest.mark.parametrize("mode", PLAN_MODES)
async def test_nurse_search_scans_the_name_key_indexes_not_the_patients_table(
    seeded: Seeded, as_nurse: asyncpg.Connection, mode: str
) -> None:
    plan = await search_plan(as_nurse, search_arguments(seeded, "rah"), mode)
    scans = [n for n in nodes(plan) if n.get("Relation Name") == "patients"
             or n.get("Index Name", "").startswith("patients_")]
    assert [n for n in scans if n["Node Type"] == "Seq Scan"] == [], plan
    by_index = {n["Index Name"]: n["Index Cond"] for n in scans if "Index Name" in n}
    assert NAME_KEY_INDEXES <= set(by_index), plan
    for key in ("family_name_key", "given_name_key"):
        condition = by_index[f"patients_{key}"]
        assert f"{key} >=" in condition and f"{key} <" in condition, condition


@pytest.mark.parametrize("text", [pytest.param("rah", id="family"),
                                  pytest.param("far", id="given"),
                                  pytest.param("F1-000007", id="mrn")])
async def test_nurse_search_finds_what_a_prefix_of_lower_cased_names_finds(
    database: DatabaseUnderTest, seeded: Seeded, as_nurse: asyncpg.Connection, text: str
) -> None:
    rows = await as_nurse.fetch(SEARCH_PATIENTS_PAGE, *search_arguments(seeded, text))
    expected = await admin_fetch(database.admin_url, """
        select id from app.patients
        where tenant_id = $1 and facility_id = $2
          and (mrn = $3 or starts_with(lower(family_name), lower($3))
               or starts_with(lower(given_name), lower($3)))
        order by family_name, given_name, id limit 21""",
        seeded.tenant_id(1), seeded.facility_id(1, 1), text)
    assert [r["id"] for r in rows] == [r["id"] for r in expected]
    assert len(expected) > 0
