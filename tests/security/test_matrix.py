"""The adversarial matrix: every Query and Mutation field, asked by every role and by a partner
of each single scope (and without a token), with every kind of id in every id argument, over
HTTP against the live server. The cells are generated from the schema, so a field or an id
argument added without a row in tests/security/expectations.py fails here first.

A refusal carries nothing about any row: each NOT_FOUND, FORBIDDEN, EMPTY or UNAUTHENTICATED
body must equal, byte for byte, the body the same caller gets for a random id.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.security.expectations import (
    COVERED_ELSEWHERE,
    DATA,
    EMPTY,
    REFUSALS,
    TABLE,
    Probe,
    Row,
    expected,
)
from tests.security.introspection import (
    Cell,
    document,
    id_paths,
    possible_types,
    root_fields,
    schema,
    with_id,
)
from tests.security.world import ANONYMOUS, CALLERS, KINDS, NONEXISTENT, WRONG_TYPE, World
from wardgraph import ids

SCHEMA = schema()
FIELDS = root_fields(SCHEMA)
ASKED = {key: f for key, f in FIELDS.items() if not key.startswith("Subscription.")}
REPOSITORY = Path(__file__).resolve().parents[2]


def cells() -> list[Cell]:
    """Every cell of the fields both the schema and the table know (the tests below fail on
    any field or id argument only one of them knows)."""
    found: list[Cell] = []
    for key in sorted(ASKED.keys() & TABLE.keys()):
        row = TABLE[key]
        if row.plain or not row.probes:
            found += [Cell(key, None, None, caller, None) for caller in CALLERS]
        # An id of another type is not a wrong type for node(id:): it names an object of that
        # type, whose own probe covers it.
        kinds = KINDS if possible_types(SCHEMA, ASKED[key]) is None else (
            tuple(kind for kind in KINDS if kind != WRONG_TYPE))
        for probe in row.probes:
            found += [Cell(key, probe.path, probe.type_name, caller, kind)
                      for caller in CALLERS for kind in kinds]
    return found


CELLS = cells()


def probe_of(cell: Cell) -> Probe | None:
    if cell.path is None:
        return None
    [probe] = [p for p in TABLE[cell.key].probes
               if (p.path, p.type_name) == (cell.path, cell.type_name)]
    return probe


async def id_of_kind(world: World, probe: Probe, kind: str) -> str:
    if kind == NONEXISTENT:
        return ids.encode(probe.type_name, uuid.uuid4())
    site = world.site(kind)
    if kind == WRONG_TYPE:
        return site.id_of("Ward" if probe.type_name == "Facility" else "Facility")
    if probe.fresh is not None:
        return await probe.fresh(world, site)
    return site.id_of(probe.type_name)


async def variables_for(world: World, row: Row, probe: Probe | None,
                        kind: str | None) -> dict[str, Any]:
    if probe is None or kind is None:
        return await row.variables(world, world.site("own"))
    build = probe.variables or row.variables
    given = await build(world, world.site(kind))
    return with_id(given, probe.path, await id_of_kind(world, probe, kind))


async def ask(world: World, cell: Cell, kind: str | None) -> httpx.Response:
    row = TABLE[cell.key]
    variables = await variables_for(world, row, probe_of(cell), kind)
    return await world.post(document(cell.key, ASKED[cell.key]), variables, cell.caller)


def outcome(response: httpx.Response, field: str) -> str:
    assert response.status_code == 200, response.text
    body = response.json()
    if body.get("errors"):
        code: str = body["errors"][0].get("extensions", {}).get("code", "no code")
        return code
    value = body["data"][field]
    if value is None:
        return "NULL"
    if isinstance(value, dict) and "edges" in value:
        return DATA if value["edges"] else EMPTY
    if isinstance(value, list):
        return DATA if value else EMPTY
    return DATA


async def reference(world: World, cell: Cell) -> bytes:
    """The body this caller gets for a random id (the cell asked first, else asked now)."""
    if cell.probe_key not in world.references:
        world.references[cell.probe_key] = (await ask(world, cell, NONEXISTENT)).content
    return world.references[cell.probe_key]


@pytest.mark.parametrize("cell", CELLS, ids=lambda cell: cell.name)
async def test_every_cell_answers_as_the_table_says_and_refusals_reveal_nothing(
    world: World, cell: Cell
) -> None:
    want = expected(TABLE[cell.key], probe_of(cell), cell.caller, cell.kind)
    response = await ask(world, cell, cell.kind)
    assert outcome(response, cell.key.split(".")[1]) == want, response.text
    if cell.kind == NONEXISTENT:
        world.references[cell.probe_key] = response.content
    elif cell.kind is not None and want in REFUSALS:
        assert response.content == await reference(world, cell)


# -- the table covers the schema ----------------------------------------------------------------

def test_every_query_and_mutation_field_has_a_row_and_every_row_a_field() -> None:
    assert sorted(ASKED) == sorted(TABLE), (
        "add the field to tests/security/expectations.py (or remove a row whose field is gone)")


def test_every_subscription_field_is_covered_by_a_named_test_module() -> None:
    subscriptions = {key for key in FIELDS if key.startswith("Subscription.")}
    assert subscriptions == set(COVERED_ELSEWHERE)
    for key, module in COVERED_ELSEWHERE.items():
        assert key.split(".")[1] in (REPOSITORY / module).read_text("utf-8"), module


@pytest.mark.parametrize("key", sorted(ASKED.keys() & TABLE.keys()))
def test_every_id_argument_of_the_field_is_probed(key: str) -> None:
    probed = {probe.path for probe in TABLE[key].probes}
    assert probed == id_paths(ASKED[key])


ABSTRACT = sorted(key for key in ASKED.keys() & TABLE.keys()
                  if possible_types(SCHEMA, ASKED[key]) is not None)


def test_node_is_among_the_fields_returning_any_of_several_types() -> None:
    assert "Query.node" in ABSTRACT


@pytest.mark.parametrize("key", ABSTRACT)
def test_a_field_returning_an_interface_is_probed_with_every_type_implementing_it(
    key: str,
) -> None:
    assert {probe.type_name for probe in TABLE[key].probes} == possible_types(SCHEMA, ASKED[key])


@pytest.mark.parametrize("caller", [c for c in CALLERS if c != ANONYMOUS])
async def test_node_with_an_id_that_is_not_ours_is_not_found_for_every_caller(
    world: World, caller: str
) -> None:
    query = document("Query.node", ASKED["Query.node"])
    answers = [await world.post(query, {"id": given}, caller)
               for given in ("not-an-id", ids.encode("Nothing", uuid.uuid4()), "")]
    assert [outcome(a, "node") for a in answers] == ["NOT_FOUND"] * len(answers)
    assert len({a.content for a in answers}) == 1


def test_every_caller_and_every_kind_of_id_are_in_the_matrix() -> None:
    assert {cell.caller for cell in CELLS} == set(CALLERS)
    assert {cell.kind for cell in CELLS} == {*KINDS, None}
