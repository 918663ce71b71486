"""Mutations give no existence hints: a value another tenant holds is free here (every unique
index leads with tenant_id), and a value taken here is refused with a message that does not
repeat it, so the refusal reads the same whichever value was taken."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.factories import admin_fetch
from tests.security.world import OTHER_TENANT, OWN, World

Input = Callable[[World, str], dict[str, Any]]


def facility(world: World, code: str) -> dict[str, Any]:
    return {"code": code, "name": "Hint", "timezone": "Asia/Dhaka"}


def patient(world: World, mrn: str) -> dict[str, Any]:
    return {"mrn": mrn, "givenName": "Hint", "familyName": "Probe", "birthDate": "1980-01-01",
            "facilityId": world.sites[OWN].facility}


def user(world: World, email: str) -> dict[str, Any]:
    return {"email": email, "role": "NURSE", "facilityIds": [world.sites[OWN].facility]}


# mutation, input type, the unique value's field, its column, and how the input is built
CASES = [
    pytest.param("createFacility", "CreateFacilityInput", "code",
                 "select code as value from app.facilities where tenant_id = $1", facility,
                 id="facility-code"),
    pytest.param("createPatient", "CreatePatientInput", "mrn",
                 "select mrn as value from app.patients where tenant_id = $1", patient,
                 id="patient-mrn"),
    pytest.param("createUser", "CreateUserInput", "email",
                 "select email as value from app.users where tenant_id = $1", user,
                 id="user-email"),
]


async def values(world: World, site: str, sql: str) -> list[str]:
    rows = await admin_fetch(world.admin_url, sql, world.sites[site].kit.tenant_id)
    return sorted(row["value"] for row in rows)


@pytest.mark.parametrize(("mutation", "input_type", "field", "sql", "build"), CASES)
async def test_a_value_held_by_another_tenant_is_free_and_one_held_here_is_not_repeated(
    world: World, mutation: str, input_type: str, field: str, sql: str, build: Input,
) -> None:
    query = f"mutation($i: {input_type}!) {{ {mutation}(input: $i) {{ id }} }}"
    theirs = (await values(world, OTHER_TENANT, sql))[0]
    assert theirs not in await values(world, OWN, sql)
    created = await world.post(query, {"i": build(world, theirs)}, "ADMIN")
    assert "errors" not in created.json(), created.text
    # Two values now taken here: refused alike, neither named.
    taken = (await values(world, OWN, sql))[:2]
    assert len(taken) == 2
    refusals = [await world.post(query, {"i": build(world, value)}, "ADMIN") for value in taken]
    for refusal, value in zip(refusals, taken, strict=True):
        assert refusal.json()["errors"][0]["extensions"] == {"code": "VALIDATION_FAILED",
                                                             "field": field}
        assert value not in refusal.text
    assert refusals[0].content == refusals[1].content
